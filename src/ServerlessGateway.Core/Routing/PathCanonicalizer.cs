using System.Buffers;

namespace ServerlessGateway.Routing;

public enum CanonicalPathError
{
    None,
    EncodedSlash,
    EncodedBackslash,
    EncodedNul,
    Backslash,
    InvalidEncoding,
    InvalidCharacter,
    NotAbsolute,
    DotSegmentWithParameters,
}

/// <summary>
/// The one canonical form of a request path that routing, every policy and the upstream request
/// see (DESIGN.md §2): percent-encoded unreserved characters decoded (RFC 3986 §2.3), other
/// escapes kept with upper-case hex (§6.2.2.1), dot segments removed (§5.2.4), runs of '/' merged.
/// Encoded '/', '\' and NUL are rejected, as is a raw '\' and a dot segment carrying ';' parameters
/// ("..;", which servlet containers read as ".."): each is a classic way to make a proxy and a
/// backend disagree about the path. Matching stays case-sensitive, as in Kong.
/// </summary>
public static class PathCanonicalizer
{
    private static readonly SearchValues<char> NeedsWork = SearchValues.Create("%/.\\");
    private static readonly SearchValues<char> Unreserved =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    // RFC 3986 pchar without pct-encoded: unreserved / sub-delims / ":" / "@", plus "/".
    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%");

    /// <summary>Canonicalizes the path part of a request target (no query). Allocates only when the path changes.</summary>
    public static CanonicalPathError TryCanonicalize(string rawPath, out string canonical)
    {
        canonical = rawPath;
        if (rawPath.Length == 0 || rawPath[0] != '/')
        {
            return CanonicalPathError.NotAbsolute;
        }

        var span = rawPath.AsSpan();
        if (span.ContainsAnyExcept(Allowed))
        {
            return span.Contains('\\') ? CanonicalPathError.Backslash : CanonicalPathError.InvalidCharacter;
        }

        if (!NeedsCanonicalization(span))
        {
            return CanonicalPathError.None;
        }

        var decoded = DecodeUnreserved(span, out var error);
        if (error != CanonicalPathError.None)
        {
            return error;
        }

        if (HasDotSegmentWithParameters(decoded))
        {
            return CanonicalPathError.DotSegmentWithParameters;
        }

        canonical = RemoveDotSegmentsAndMergeSlashes(decoded);
        return CanonicalPathError.None;
    }

    /// <summary>True when the path is already in canonical form (used for configured paths).</summary>
    public static bool IsCanonical(string path) =>
        TryCanonicalize(path, out var canonical) == CanonicalPathError.None && canonical == path;

    private static bool NeedsCanonicalization(ReadOnlySpan<char> path)
    {
        // Fast path for the common case: no '%', no "//", no "/." segment start.
        var i = path.IndexOfAny(NeedsWork);
        while (i >= 0)
        {
            var c = path[i];
            if (c == '%')
            {
                return true;
            }

            if (c == '/' && i + 1 < path.Length && (path[i + 1] == '/' || path[i + 1] == '.'))
            {
                return true;
            }

            if (c == '.' && i > 0 && path[i - 1] == '/')
            {
                return true;
            }

            var next = path[(i + 1)..].IndexOfAny(NeedsWork);
            i = next < 0 ? -1 : i + 1 + next;
        }

        return false;
    }

    private static string DecodeUnreserved(ReadOnlySpan<char> path, out CanonicalPathError error)
    {
        error = CanonicalPathError.None;
        if (!path.Contains('%'))
        {
            return path.ToString();
        }

        var builder = new ValueStringBuilder(path.Length);
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c != '%')
            {
                builder.Append(c);
                continue;
            }

            if (i + 2 >= path.Length || !IsHex(path[i + 1]) || !IsHex(path[i + 2]))
            {
                error = CanonicalPathError.InvalidEncoding;
                return "";
            }

            var value = (char)((HexValue(path[i + 1]) << 4) | HexValue(path[i + 2]));
            switch (value)
            {
                case '/':
                    error = CanonicalPathError.EncodedSlash;
                    return "";
                case '\\':
                    error = CanonicalPathError.EncodedBackslash;
                    return "";
                case '\0':
                    error = CanonicalPathError.EncodedNul;
                    return "";
            }

            if (Unreserved.Contains(value))
            {
                builder.Append(value);
            }
            else
            {
                builder.Append('%');
                builder.Append(char.ToUpperInvariant(path[i + 1]));
                builder.Append(char.ToUpperInvariant(path[i + 2]));
            }

            i += 2;
        }

        return builder.ToString();
    }

    /// <summary>
    /// "/..;x/" is no dot segment to RFC 3986, so it stays in the path, but servlet containers strip ';'
    /// parameters before resolving dot segments: the backend would climb where routing did not
    /// (Orange Tsai, "Breaking Parser Logic", Black Hat USA 2018). No client has a reason to send one.
    /// </summary>
    private static bool HasDotSegmentWithParameters(string path)
    {
        foreach (var range in path.AsSpan().Split('/'))
        {
            var segment = path.AsSpan()[range];
            var semicolon = segment.IndexOf(';');
            if (semicolon > 0 && segment[..semicolon] is "." or "..")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>RFC 3986 §5.2.4 over segments, with empty segments (from "//") dropped.</summary>
    private static string RemoveDotSegmentsAndMergeSlashes(string path)
    {
        var span = path.AsSpan(1);
        var kept = new List<Range>();
        var trailingSlash = false;
        var offset = 1;
        foreach (var range in span.Split('/'))
        {
            var segment = span[range];
            var absolute = new Range(range.Start.Value + offset, range.End.Value + offset);
            trailingSlash = segment.Length == 0 || segment is "." || segment is "..";
            if (segment is "..")
            {
                if (kept.Count > 0)
                {
                    kept.RemoveAt(kept.Count - 1);
                }
            }
            else if (!trailingSlash)
            {
                kept.Add(absolute);
            }
        }

        var builder = new ValueStringBuilder(path.Length);
        foreach (var range in kept)
        {
            builder.Append('/');
            builder.Append(path.AsSpan()[range]);
        }

        if (kept.Count == 0 || trailingSlash)
        {
            builder.Append('/');
        }

        return builder.ToString();
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>A minimal growable char buffer (the BCL's ValueStringBuilder is internal).</summary>
    private ref struct ValueStringBuilder(int capacity)
    {
        private char[] _buffer = new char[Math.Max(capacity, 1)];
        private int _length;

        public void Append(char c)
        {
            if (_length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            _buffer[_length++] = c;
        }

        public void Append(ReadOnlySpan<char> s)
        {
            foreach (var c in s)
            {
                Append(c);
            }
        }

        public override readonly string ToString() => new(_buffer, 0, _length);
    }
}
