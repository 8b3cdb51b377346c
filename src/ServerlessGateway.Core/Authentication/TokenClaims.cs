using System.Globalization;
using System.Text.Json;

namespace ServerlessGateway.Authentication;

/// <summary>
/// A token's claims as plain values (string, long, double, bool, null, <c>object?[]</c>, nested
/// dictionaries) that outlive the JSON they came from, and Kong Enterprise's claim lookups over
/// them: a claim named by a path (<c>["realm_access", "roles"]</c> is a nested member), values of a
/// claim as strings (a space-separated string, as OAuth's <c>scope</c>, or an array), and the
/// required-values rule where each entry is a space-separated set that must all be present and the
/// entries are alternatives ("AND / OR").
/// </summary>
internal static class TokenClaims
{
    public static Dictionary<string, object?> FromJson(JsonElement payload)
    {
        var claims = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var member in payload.EnumerateObject())
        {
            claims[member.Name] = Convert(member.Value);
        }

        return claims;
    }

    private static object? Convert(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var integer) ? integer : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => value.EnumerateArray().Select(Convert).ToArray(),
        JsonValueKind.Object => FromJson(value),
        _ => null,
    };

    /// <summary>The claim at <paramref name="path"/> (one name, or names into nested objects), or null.</summary>
    public static object? Find(IReadOnlyDictionary<string, object?> claims, IReadOnlyList<string> path)
    {
        object? current = claims;
        foreach (var name in path)
        {
            if (current is not IReadOnlyDictionary<string, object?> map || !map.TryGetValue(name, out current))
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>A claim's values as strings: array items, or the string itself (split on spaces when <paramref name="splitSpaces"/>).</summary>
    public static List<string> Values(object? claim, bool splitSpaces)
    {
        var values = new List<string>();
        switch (claim)
        {
            case string text when splitSpaces:
                values.AddRange(text.Split(' ', StringSplitOptions.RemoveEmptyEntries));
                break;
            case object?[] items:
                foreach (var item in items)
                {
                    if (Scalar(item) is { } scalar)
                    {
                        values.Add(scalar);
                    }
                }

                break;
            default:
                if (Scalar(claim) is { } single)
                {
                    values.Add(single);
                }

                break;
        }

        return values;
    }

    /// <summary>A string, number or boolean claim as text (invariant culture), else null.</summary>
    public static string? Scalar(object? claim) => claim switch
    {
        string text => text,
        long integer => integer.ToString(CultureInfo.InvariantCulture),
        double number => number.ToString("R", CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        _ => null,
    };

    /// <summary>A NumericDate claim (RFC 7519 §2) as a time, clamped to the representable range; null when absent or not a number.</summary>
    public static DateTimeOffset? NumericDate(IReadOnlyDictionary<string, object?> claims, string name, out bool present)
    {
        present = claims.TryGetValue(name, out var value);
        var seconds = value switch
        {
            long integer => (double)integer,
            double number when double.IsFinite(number) => number,
            _ => double.NaN,
        };
        if (double.IsNaN(seconds))
        {
            return null;
        }

        const double Max = 253_402_300_799; // 9999-12-31T23:59:59Z
        return DateTimeOffset.FromUnixTimeMilliseconds((long)(Math.Clamp(seconds, 0, Max) * 1000));
    }

    /// <summary>
    /// Kong Enterprise's rule for <c>*_required</c>: each entry is a space-separated set that must all
    /// be present; the request passes when any entry does. <paramref name="required"/> is already split.
    /// </summary>
    public static bool Satisfies(string[][] required, List<string> present)
    {
        foreach (var group in required)
        {
            var all = true;
            foreach (var value in group)
            {
                if (!present.Contains(value, StringComparer.Ordinal))
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="value"/> can be an HTTP header value as is: visible ASCII, spaces and tabs only (no CR, LF, NUL).</summary>
    public static bool IsHeaderSafe(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' and not '\t' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
