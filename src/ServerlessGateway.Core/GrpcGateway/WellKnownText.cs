using System.Globalization;
using System.Text;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// The string forms of Timestamp (RFC 3339), Duration (<c>"1.5s"</c>) and FieldMask paths
/// (lowerCamelCase), as https://protobuf.dev/programming-guides/json/ defines them.
/// </summary>
internal static class WellKnownText
{
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range Timestamp allows.
    public const long MinTimestampSeconds = -62135596800;
    public const long MaxTimestampSeconds = 253402300799;
    public const long MaxDurationSeconds = 315576000000;

    public static string FormatTimestamp(long seconds, int nanos)
    {
        var time = DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond);
        return time.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture) + Fraction(nanos) + "Z";
    }

    public static string FormatDuration(long seconds, int nanos)
    {
        var negative = seconds < 0 || nanos < 0;
        return (negative ? "-" : "") + Math.Abs(seconds).ToString(CultureInfo.InvariantCulture) + Fraction(Math.Abs(nanos)) + "s";
    }

    /// <summary>0, 3, 6 or 9 fractional digits, as Google's formatters write them.</summary>
    private static string Fraction(int nanos) =>
        nanos == 0 ? ""
        : nanos % 1_000_000 == 0 ? "." + (nanos / 1_000_000).ToString("D3", CultureInfo.InvariantCulture)
        : nanos % 1_000 == 0 ? "." + (nanos / 1_000).ToString("D6", CultureInfo.InvariantCulture)
        : "." + nanos.ToString("D9", CultureInfo.InvariantCulture);

    /// <summary><c>yyyy-MM-ddTHH:mm:ss[.f{1,9}](Z|±HH:MM)</c>, normalized to UTC.</summary>
    public static bool TryParseTimestamp(string text, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || text[10] is not ('T' or 't') || text[13] != ':' || text[16] != ':')
        {
            return false;
        }

        if (!DateTime.TryParseExact(text.AsSpan(0, 19), "yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time)
            && !DateTime.TryParseExact(text.AsSpan(0, 19), "yyyy'-'MM'-'dd't'HH':'mm':'ss", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time))
        {
            return false;
        }

        var i = 19;
        if (i < text.Length && text[i] == '.')
        {
            var start = ++i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == start || i - start > 9 || !TryNanos(text.AsSpan(start, i - start), out nanos))
            {
                return false;
            }
        }

        long offset;
        if (i == text.Length - 1 && text[i] is 'Z' or 'z')
        {
            offset = 0;
        }
        else if (i == text.Length - 6 && text[i] is '+' or '-' && text[i + 3] == ':'
            && int.TryParse(text.AsSpan(i + 1, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hours)
            && int.TryParse(text.AsSpan(i + 4, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes)
            && hours < 24 && minutes < 60)
        {
            offset = (text[i] == '-' ? -1 : 1) * (hours * 3600L + minutes * 60L);
        }
        else
        {
            return false;
        }

        // Whole ticks, not TotalSeconds: the double division lands a hair below some whole seconds
        // (6064-02-12T14:21:33Z gave ...32.99999 -> one second early).
        seconds = (time - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerSecond - offset;
        return seconds is >= MinTimestampSeconds and <= MaxTimestampSeconds;
    }

    /// <summary><c>-?\d+(\.\d{1,9})?s</c> within ±10,000 years.</summary>
    public static bool TryParseDuration(string text, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        if (text.Length < 2 || text[^1] != 's')
        {
            return false;
        }

        var body = text.AsSpan(0, text.Length - 1);
        var negative = body[0] == '-';
        if (negative)
        {
            body = body[1..];
        }

        var dot = body.IndexOf('.');
        var whole = dot < 0 ? body : body[..dot];
        if (whole.Length == 0 || !long.TryParse(whole, NumberStyles.None, CultureInfo.InvariantCulture, out seconds))
        {
            return false;
        }

        if (dot >= 0)
        {
            var fraction = body[(dot + 1)..];
            if (fraction.Length is 0 or > 9 || !TryNanos(fraction, out nanos))
            {
                return false;
            }
        }

        if (seconds > MaxDurationSeconds)
        {
            return false;
        }

        if (negative)
        {
            seconds = -seconds;
            nanos = -nanos;
        }

        return true;
    }

    private static bool TryNanos(ReadOnlySpan<char> digits, out int nanos)
    {
        nanos = 0;
        foreach (var c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        nanos = int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        for (var n = digits.Length; n < 9; n++)
        {
            nanos *= 10;
        }

        return true;
    }

    /// <summary><c>foo_bar.baz_qux</c> -> <c>fooBar.bazQux</c> (a FieldMask path in JSON).</summary>
    public static string ToCamelPath(string path)
    {
        var builder = new StringBuilder(path.Length);
        var upper = false;
        foreach (var c in path)
        {
            if (c == '_')
            {
                upper = true;
                continue;
            }

            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return builder.ToString();
    }

    /// <summary><c>fooBar.bazQux</c> -> <c>foo_bar.baz_qux</c>; null for a path that does not round-trip (has '_').</summary>
    public static string? ToSnakePath(string path)
    {
        var builder = new StringBuilder(path.Length + 4);
        foreach (var c in path)
        {
            if (c == '_')
            {
                return null;
            }

            if (char.IsAsciiLetterUpper(c))
            {
                builder.Append('_').Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
