namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// A <c>google.api.http</c> path template (google/api/http.proto): <c>/v1/{name=shelves/*}/books/{book.id}:verb</c>.
/// Grammar: <c>"/" Segments [":" Verb]</c>; a segment is a literal, <c>*</c> (one segment), <c>**</c> (zero or
/// more, last only) or <c>{field.path[=Segments]}</c>, where <c>{field}</c> means <c>{field=*}</c>.
/// </summary>
internal sealed class PathTemplate
{
    private enum Kind { Literal, Single, Multi }

    private readonly record struct Segment(Kind Kind, string Text);

    /// <summary>A variable covers segments [Start, End) of the template; a <c>**</c> in it runs to the path's end.</summary>
    internal sealed record Variable(string[] FieldPath, int Start, int End);

    private readonly Segment[] _segments;
    private readonly string? _verb;

    private PathTemplate(string text, Segment[] segments, Variable[] variables, string? verb)
    {
        Text = text;
        _segments = segments;
        Variables = variables;
        _verb = verb;
    }

    public string Text { get; }

    public Variable[] Variables { get; }

    public static PathTemplate? Parse(string text, out string? error)
    {
        error = null;
        if (!text.StartsWith('/'))
        {
            error = "must start with '/'";
            return null;
        }

        var body = text[1..];
        string? verb = null;
        var lastSlash = body.LastIndexOf('/');
        var colon = body.LastIndexOf(':');
        if (colon > lastSlash && colon > body.LastIndexOf('}'))
        {
            verb = body[(colon + 1)..];
            body = body[..colon];
            if (verb.Length == 0)
            {
                error = "has an empty verb after ':'";
                return null;
            }
        }

        var segments = new List<Segment>();
        var variables = new List<Variable>();
        var i = 0;
        while (i <= body.Length)
        {
            if (i < body.Length && body[i] == '{')
            {
                var close = body.IndexOf('}', i);
                if (close < 0)
                {
                    error = "has an unclosed '{'";
                    return null;
                }

                var inner = body[(i + 1)..close];
                var eq = inner.IndexOf('=');
                var fieldPath = (eq < 0 ? inner : inner[..eq]).Split('.');
                if (fieldPath.Any(p => p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
                {
                    error = $"has an invalid field path in '{{{inner}}}'";
                    return null;
                }

                var start = segments.Count;
                foreach (var part in (eq < 0 ? "*" : inner[(eq + 1)..]).Split('/'))
                {
                    if (!AddSegment(segments, part, nested: true, out error))
                    {
                        return null;
                    }
                }

                variables.Add(new Variable(fieldPath, start, segments.Count));
                i = close + 1;
            }
            else
            {
                var end = body.IndexOf('/', i);
                end = end < 0 ? body.Length : end;
                if (!AddSegment(segments, body[i..end], nested: false, out error))
                {
                    return null;
                }

                i = end;
            }

            if (i < body.Length && body[i] != '/')
            {
                error = "has text after a '}' that is not '/'";
                return null;
            }

            i++;
        }

        for (var s = 0; s < segments.Count - 1; s++)
        {
            if (segments[s].Kind == Kind.Multi)
            {
                error = "may have '**' only as its last segment";
                return null;
            }
        }

        return new PathTemplate(text, [.. segments], [.. variables], verb);
    }

    private static bool AddSegment(List<Segment> segments, string part, bool nested, out string? error)
    {
        error = null;
        if (part.Length == 0)
        {
            error = "has an empty segment";
            return false;
        }

        if (part.Contains('{') || part.Contains('}') || nested && part.Contains('='))
        {
            error = $"has an invalid segment '{part}'";
            return false;
        }

        segments.Add(part switch
        {
            "*" => new Segment(Kind.Single, part),
            "**" => new Segment(Kind.Multi, part),
            _ => new Segment(Kind.Literal, part),
        });
        return true;
    }

    /// <summary>Matches a canonical request path; fills each variable's percent-decoded value in <paramref name="values"/>.</summary>
    public bool TryMatch(string path, string[] values)
    {
        var span = path.AsSpan(1);
        if (_verb is not null)
        {
            if (!span.EndsWith(_verb, StringComparison.Ordinal) || span.Length <= _verb.Length || span[^(_verb.Length + 1)] != ':')
            {
                return false;
            }

            span = span[..^(_verb.Length + 1)];
        }

        // Segment boundaries in the path: offsets of each segment's start and end.
        Span<Range> parts = stackalloc Range[Math.Min(span.Count('/') + 1, 256)];
        var count = span.Split(parts, '/');
        if (count == parts.Length && count == 256)
        {
            return false;
        }

        var multi = _segments.Length > 0 && _segments[^1].Kind == Kind.Multi;
        if (multi ? count < _segments.Length - 1 : count != _segments.Length)
        {
            return false;
        }

        for (var s = 0; s < _segments.Length; s++)
        {
            var segment = _segments[s];
            if (segment.Kind == Kind.Multi)
            {
                break;
            }

            var part = span[parts[s]];
            if (segment.Kind == Kind.Literal ? !part.SequenceEqual(segment.Text) : part.Length == 0)
            {
                return false;
            }
        }

        for (var v = 0; v < Variables.Length; v++)
        {
            var variable = Variables[v];
            var startOffset = variable.Start < count ? parts[variable.Start].Start.Value : span.Length;
            var last = multi && variable.End == _segments.Length ? count - 1 : variable.End - 1;
            var endOffset = last >= variable.Start ? parts[last].End.Value : startOffset;
            values[v] = Uri.UnescapeDataString(span[startOffset..endOffset].ToString());
        }

        return true;
    }
}
