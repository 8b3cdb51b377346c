using System.Text;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace ServerlessGateway.Transforms;

/// <summary>
/// request-transformer's body operations on the top-level fields of a <c>multipart/form-data</c> body, with the
/// rules of Kong's <c>transform_multipart_body</c> (kong/plugins/request-transformer/access.lua on Kong's
/// lua-multipart): rename, then remove, then replace, then add; <c>append</c> does not apply (Kong has no such
/// step for multipart); replaced and added fields are text parts at the end; the boundary is kept.
/// The body is scanned for its delimiters (RFC 2046 §5.1.1) and every part no operation touches is forwarded as
/// the very bytes the client sent (headers, filename, content type and binary content), sliced from the buffer,
/// never copied or re-encoded: MultipartReader would re-serialize part headers, which this must not.
/// </summary>
internal static class MultipartBodyEditor
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();

    /// <summary>One part: its name (null when it has none we can read), its header block ending in CRLF CRLF, and its content.</summary>
    private sealed record Part(string? Name, ReadOnlyMemory<byte> Head, ReadOnlyMemory<byte> Content, ContentDispositionHeaderValue? Disposition);

    /// <summary>The boundary of a multipart Content-Type, or null when it is missing or not 1-70 characters (RFC 2046 §5.1.1).</summary>
    public static string? Boundary(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            return null;
        }

        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary);
        return boundary.Length is > 0 and <= 70 ? boundary.ToString() : null;
    }

    /// <summary>
    /// The edited body as segments to send in order (slices of <paramref name="body"/> and new bytes), or null when
    /// the body is malformed (<paramref name="malformed"/>) or no operation changed it: then the client's bytes go upstream unchanged.
    /// Rendered values that contain the delimiter would let a client inject parts; their field is left out and named in <paramref name="dropped"/>.
    /// </summary>
    public static List<ReadOnlyMemory<byte>>? Edit(
        ReadOnlyMemory<byte> body, string boundary, RequestTransformerPlugin.Operations ops, string[][] values, List<string> dropped, out bool malformed)
    {
        var parts = body.Length == 0 ? [] : Parse(body, boundary);
        malformed = parts is null;
        if (parts is null)
        {
            return null;
        }

        var changed = false;

        // Kong: rename, remove and replace only when the body is not empty; add always.
        if (body.Length > 0)
        {
            foreach (var (from, to) in ops.Rename)
            {
                if (from != to && parts.Exists(p => p.Name == from))
                {
                    // Kong's set_simple overwrites a part already named `to`. Unlike Kong (which keeps only the value,
                    // turning a file into a text field), the renamed part keeps its filename, content type and bytes.
                    parts.RemoveAll(p => p.Name == to);
                    for (var i = 0; i < parts.Count; i++)
                    {
                        if (parts[i].Name == from)
                        {
                            parts[i] = Renamed(parts[i], to);
                        }
                    }

                    changed = true;
                }
            }

            foreach (var name in ops.Remove)
            {
                // Every part of that name (Kong's lua-multipart deletes only the last one it indexed).
                changed |= parts.RemoveAll(p => p.Name == name) > 0;
            }

            for (var i = 0; i < ops.Replace.Length; i++)
            {
                var name = ops.Replace[i].Name;
                if (parts.Exists(p => p.Name == name) && Writable(name, values[0][i], boundary, dropped))
                {
                    parts.RemoveAll(p => p.Name == name);
                    parts.Add(Text(name, values[0][i]));
                    changed = true;
                }
            }
        }

        for (var i = 0; i < ops.Add.Length; i++)
        {
            var name = ops.Add[i].Name;
            if (!parts.Exists(p => p.Name == name) && Writable(name, values[1][i], boundary, dropped))
            {
                parts.Add(Text(name, values[1][i]));
                changed = true;
            }
        }

        return changed ? Serialize(parts, boundary) : null;
    }

    /// <summary>The parts between the first delimiter and the close delimiter; null when either is missing or a part has no header end.</summary>
    private static List<Part>? Parse(ReadOnlyMemory<byte> body, string boundary)
    {
        var span = body.Span;
        var dashBoundary = Encoding.ASCII.GetBytes("--" + boundary);
        var delimiter = Encoding.ASCII.GetBytes("\r\n--" + boundary);

        // The first delimiter may open the body (no preamble) or follow a preamble and its CRLF.
        int position;
        if (span.StartsWith(dashBoundary))
        {
            position = dashBoundary.Length;
        }
        else
        {
            var first = span.IndexOf(delimiter);
            if (first < 0)
            {
                return null;
            }

            position = first + delimiter.Length;
        }

        var parts = new List<Part>();
        while (true)
        {
            var rest = span[position..];
            if (rest.StartsWith("--"u8))
            {
                return parts;
            }

            // transport-padding (spaces and tabs) then CRLF ends a delimiter line.
            var padding = 0;
            while (padding < rest.Length && rest[padding] is (byte)' ' or (byte)'\t')
            {
                padding++;
            }

            if (!rest[padding..].StartsWith(Crlf))
            {
                return null;
            }

            var start = position + padding + Crlf.Length;
            var end = span[start..].IndexOf(delimiter);
            if (end < 0)
            {
                return null;
            }

            var part = ReadPart(body.Slice(start, end));
            if (part is null)
            {
                return null;
            }

            parts.Add(part);
            position = start + end + delimiter.Length;
        }
    }

    private static Part? ReadPart(ReadOnlyMemory<byte> raw)
    {
        // A part with no header fields starts with its blank line (RFC 2046 §5.1.1: such a part is text/plain).
        var span = raw.Span;
        var headLength = span.StartsWith(Crlf) ? Crlf.Length : span.IndexOf(HeaderEnd) is var at and >= 0 ? at + HeaderEnd.Length : -1;
        if (headLength < 0)
        {
            return null;
        }

        ContentDispositionHeaderValue? disposition = null;
        foreach (var line in Encoding.UTF8.GetString(span[..headLength]).Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals(HeaderNames.ContentDisposition, StringComparison.OrdinalIgnoreCase)
                && ContentDispositionHeaderValue.TryParse(line[(colon + 1)..].Trim(), out var parsed))
            {
                disposition = parsed;
                break;
            }
        }

        var name = disposition is null || StringSegment.IsNullOrEmpty(disposition.Name) ? null : HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
        return new Part(name, raw[..headLength], raw[headLength..], disposition);
    }

    /// <summary>The same part under another name: its Content-Disposition rewritten, every other header line and the content as sent.</summary>
    private static Part Renamed(Part part, string name)
    {
        var disposition = part.Disposition!;
        disposition.Name = Quote(name);
        var head = new StringBuilder();
        foreach (var line in Encoding.UTF8.GetString(part.Head.Span).Split("\r\n"))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var isDisposition = colon > 0 && line.AsSpan(0, colon).Trim().Equals(HeaderNames.ContentDisposition, StringComparison.OrdinalIgnoreCase);
            head.Append(isDisposition ? $"{HeaderNames.ContentDisposition}: {disposition}" : line).Append("\r\n");
        }

        head.Append("\r\n");
        return new Part(name, Encoding.UTF8.GetBytes(head.ToString()), part.Content, disposition);
    }

    /// <summary>A rendered value holding the delimiter would let a client inject parts: its field is not written.</summary>
    private static bool Writable(string name, string value, string boundary, List<string> dropped)
    {
        if (!value.Contains("--" + boundary, StringComparison.Ordinal))
        {
            return true;
        }

        dropped.Add(name);
        return false;
    }

    /// <summary>Kong's set_simple: a part with only <c>Content-Disposition: form-data; name="..."</c> and the value as UTF-8.</summary>
    private static Part Text(string name, string value) =>
        new(name, Encoding.UTF8.GetBytes($"{HeaderNames.ContentDisposition}: form-data; name={Quote(name)}\r\n\r\n"), Encoding.UTF8.GetBytes(value), null);

    /// <summary>A field name as a quoted string, with '"', CR and LF percent-encoded as browsers do (WHATWG multipart/form-data encoding).</summary>
    private static string Quote(string name) =>
        "\"" + name.Replace("\"", "%22", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal) + "\"";

    /// <summary>Kong's encoding: each part after "--boundary" CRLF and followed by CRLF, then the close delimiter; no part left means an empty body.</summary>
    private static List<ReadOnlyMemory<byte>> Serialize(List<Part> parts, string boundary)
    {
        var segments = new List<ReadOnlyMemory<byte>>(parts.Count * 4 + 1);
        if (parts.Count == 0)
        {
            return segments;
        }

        var open = Encoding.ASCII.GetBytes("--" + boundary + "\r\n");
        foreach (var part in parts)
        {
            segments.Add(open);
            segments.Add(part.Head);
            segments.Add(part.Content);
            segments.Add(Crlf);
        }

        segments.Add(Encoding.ASCII.GetBytes("--" + boundary + "--\r\n"));
        return segments;
    }
}
