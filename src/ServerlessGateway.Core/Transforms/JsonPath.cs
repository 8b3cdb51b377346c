using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Transforms;

/// <summary>
/// Our extension to response-transformer's <c>remove.json</c> and <c>replace.json</c>: a subset of
/// JSONPath (RFC 9535) that selects existing members to remove or replace, in nested objects and arrays:
/// <c>$.a.b</c>, <c>$['a-b']</c>, <c>$.a[0]</c>, <c>$.a[-1]</c>, <c>$.a[*].b</c>, <c>$.a.*</c>, <c>$..name</c>
/// (recursive descent). Filters, slices and unions are not supported and are rejected at import.
/// Parsed once per snapshot; evaluation allocates only while a body is edited.
/// </summary>
internal sealed class JsonPath
{
    private enum Selector { Name, Index, Wildcard }

    private readonly record struct Segment(Selector Selector, string? Name, int Index, bool Recursive);

    /// <summary>One selected member: a property of an object or an element of an array.</summary>
    private readonly record struct Match(JsonNode Parent, string? Name, int Index);

    private readonly Segment[] _segments;

    private JsonPath(string text, Segment[] segments)
    {
        Text = text;
        _segments = segments;
    }

    public string Text { get; }

    /// <summary>Entries that start with <c>$.</c> or <c>$[</c> are paths; other keys (e.g. <c>$schema</c>) are plain keys, as in Kong.</summary>
    public static bool IsPath(string entry) => entry.StartsWith("$.", StringComparison.Ordinal) || entry.StartsWith("$[", StringComparison.Ordinal);

    /// <summary>
    /// Parses the path at the start of <paramref name="source"/>; <paramref name="end"/> is where it stops
    /// (the end, or the first character that cannot continue a path, such as the ':' before a value).
    /// </summary>
    public static JsonPath? Parse(string source, out int end, out string? error)
    {
        var segments = new List<Segment>();
        end = 1;
        error = null;
        if (!IsPath(source))
        {
            error = "a JSON path starts with '$.' or '$['";
            return null;
        }

        var pos = 1;
        while (pos < source.Length && error is null)
        {
            var c = source[pos];
            if (c == '[')
            {
                segments.Add(ReadBracket(source, ref pos, recursive: false, ref error));
            }
            else if (c == '.')
            {
                var recursive = pos + 1 < source.Length && source[pos + 1] == '.';
                pos += recursive ? 2 : 1;
                segments.Add(pos < source.Length && source[pos] == '['
                    ? recursive ? ReadBracket(source, ref pos, recursive: true, ref error) : Fail(out error, "'.' must be followed by a name or '*'", pos)
                    : ReadName(source, ref pos, recursive, ref error));
            }
            else
            {
                break;
            }
        }

        end = pos;
        if (error is not null)
        {
            return null;
        }

        return new JsonPath(source[..pos], [.. segments]);
    }

    private static Segment ReadName(string source, ref int pos, bool recursive, ref string? error)
    {
        if (pos < source.Length && source[pos] == '*')
        {
            pos++;
            return new Segment(Selector.Wildcard, null, 0, recursive);
        }

        var start = pos;
        while (pos < source.Length && (char.IsLetterOrDigit(source[pos]) || source[pos] is '_' or '-' or '$'))
        {
            pos++;
        }

        return pos == start
            ? Fail(out error, "expected a member name or '*'", pos)
            : new Segment(Selector.Name, source[start..pos], 0, recursive);
    }

    private static Segment ReadBracket(string source, ref int pos, bool recursive, ref string? error)
    {
        pos++;
        Segment segment;
        if (pos < source.Length && source[pos] == '*')
        {
            pos++;
            segment = new Segment(Selector.Wildcard, null, 0, recursive);
        }
        else if (pos < source.Length && source[pos] is '\'' or '"')
        {
            var name = ReadQuoted(source, ref pos, ref error);
            segment = new Segment(Selector.Name, name, 0, recursive);
        }
        else if (pos < source.Length && (char.IsAsciiDigit(source[pos]) || source[pos] == '-'))
        {
            var start = pos;
            pos++;
            while (pos < source.Length && char.IsAsciiDigit(source[pos]))
            {
                pos++;
            }

            if (!int.TryParse(source.AsSpan(start, pos - start), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var index))
            {
                return Fail(out error, "an array index must be an integer", start);
            }

            segment = new Segment(Selector.Index, null, index, recursive);
        }
        else
        {
            return Fail(out error, "expected '*', an array index or a quoted name after '[' (filters, slices and unions are not supported)", pos);
        }

        if (error is not null)
        {
            return segment;
        }

        if (pos >= source.Length || source[pos] != ']')
        {
            return Fail(out error, "expected ']' (filters, slices and unions are not supported)", pos);
        }

        pos++;
        return segment;
    }

    private static string ReadQuoted(string source, ref int pos, ref string? error)
    {
        var quote = source[pos++];
        var name = new StringBuilder();
        while (pos < source.Length && source[pos] != quote)
        {
            if (source[pos] == '\\' && pos + 1 < source.Length)
            {
                pos++;
            }

            name.Append(source[pos++]);
        }

        if (pos >= source.Length)
        {
            Fail(out error, "unterminated quoted name", pos);
            return "";
        }

        pos++;
        return name.ToString();
    }

    private static Segment Fail(out string error, string message, int position)
    {
        error = $"{message} at position {position}";
        return default;
    }

    /// <summary>Removes every member the path selects (array elements from the highest index down, so the others keep their place).</summary>
    public void Remove(JsonNode root)
    {
        var matches = Select(root);
        matches.Sort(static (a, b) => b.Index.CompareTo(a.Index));
        foreach (var match in matches)
        {
            if (match.Name is not null)
            {
                ((JsonObject)match.Parent).Remove(match.Name);
            }
            else
            {
                ((JsonArray)match.Parent).RemoveAt(match.Index);
            }
        }
    }

    /// <summary>Replaces every member the path selects with a fresh value; returns how many.</summary>
    public int Replace(JsonNode root, Func<JsonNode?> value)
    {
        var matches = Select(root);
        foreach (var match in matches)
        {
            if (match.Name is not null)
            {
                ((JsonObject)match.Parent)[match.Name] = value();
            }
            else
            {
                ((JsonArray)match.Parent)[match.Index] = value();
            }
        }

        return matches.Count;
    }

    /// <summary>The members selected by the last segment, each once, from the nodes the others lead to.</summary>
    private List<Match> Select(JsonNode root)
    {
        List<JsonNode> current = [root];
        for (var i = 0; i < _segments.Length - 1; i++)
        {
            var next = new List<JsonNode>();
            foreach (var match in MatchAll(current, _segments[i]))
            {
                if (ValueOf(match) is { } child)
                {
                    next.Add(child);
                }
            }

            current = next;
        }

        var seen = new HashSet<Match>();
        var result = new List<Match>();
        foreach (var match in MatchAll(current, _segments[^1]))
        {
            if (seen.Add(match))
            {
                result.Add(match);
            }
        }

        return result;
    }

    private static JsonNode? ValueOf(Match match) =>
        match.Name is not null ? ((JsonObject)match.Parent)[match.Name] : ((JsonArray)match.Parent)[match.Index];

    private static List<Match> MatchAll(List<JsonNode> nodes, Segment segment)
    {
        var matches = new List<Match>();
        foreach (var node in nodes)
        {
            if (segment.Recursive)
            {
                MatchRecursive(node, segment, matches);
            }
            else
            {
                MatchOne(node, segment, matches);
            }
        }

        return matches;
    }

    private static void MatchRecursive(JsonNode node, Segment segment, List<Match> matches)
    {
        MatchOne(node, segment, matches);
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, child) in obj)
                {
                    if (child is not null)
                    {
                        MatchRecursive(child, segment, matches);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    if (child is not null)
                    {
                        MatchRecursive(child, segment, matches);
                    }
                }

                break;
        }
    }

    private static void MatchOne(JsonNode node, Segment segment, List<Match> matches)
    {
        switch (node, segment.Selector)
        {
            case (JsonObject obj, Selector.Name):
                if (obj.ContainsKey(segment.Name!))
                {
                    matches.Add(new Match(obj, segment.Name, 0));
                }

                break;
            case (JsonObject obj, Selector.Wildcard):
                foreach (var (name, _) in obj)
                {
                    matches.Add(new Match(obj, name, 0));
                }

                break;
            case (JsonArray array, Selector.Index):
                var index = segment.Index < 0 ? array.Count + segment.Index : segment.Index;
                if (index >= 0 && index < array.Count)
                {
                    matches.Add(new Match(array, null, index));
                }

                break;
            case (JsonArray array, Selector.Wildcard):
                for (var i = 0; i < array.Count; i++)
                {
                    matches.Add(new Match(array, null, i));
                }

                break;
        }
    }
}
