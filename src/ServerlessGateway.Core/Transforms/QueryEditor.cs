using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace ServerlessGateway.Transforms;

/// <summary>The forwarded query string as ordered, decoded parameters, and back (only rebuilt when a transform edits it).</summary>
internal static class QueryEditor
{
    /// <summary>Decoded (name, value) pairs in request order; a parameter without '=' has a null value.</summary>
    public static List<KeyValuePair<string, string?>> Parse(string query)
    {
        var result = new List<KeyValuePair<string, string?>>();
        if (query.Length <= 1)
        {
            return result;
        }

        foreach (var pair in new QueryStringEnumerable(query))
        {
            var name = pair.DecodeName().ToString();
            var raw = pair.EncodedValue;
            var hasValue = raw.Length > 0 || query.Contains(string.Concat(pair.EncodedName.ToString(), "="), StringComparison.Ordinal);
            result.Add(new(name, hasValue ? pair.DecodeValue().ToString() : null));
        }

        return result;
    }

    /// <summary>The query including its leading '?', or empty when no parameter is left.</summary>
    public static string Build(List<KeyValuePair<string, string?>> parameters)
    {
        if (parameters.Count == 0)
        {
            return "";
        }

        var builder = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            builder.Append(builder.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name));
            if (value is not null)
            {
                builder.Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        return builder.ToString();
    }

    /// <summary>Kong's order on query (or form) parameters: remove, rename, replace (in place), add (absent only), append.</summary>
    public static void Apply(List<KeyValuePair<string, string?>> query, RequestTransformerPlugin.Operations ops, string[][] values)
    {
        foreach (var name in ops.Remove)
        {
            query.RemoveAll(p => p.Key == name);
        }

        foreach (var (from, to) in ops.Rename)
        {
            if (from != to && query.Exists(p => p.Key == from))
            {
                query.RemoveAll(p => p.Key == to);
                for (var i = 0; i < query.Count; i++)
                {
                    if (query[i].Key == from)
                    {
                        query[i] = new(to, query[i].Value);
                    }
                }
            }
        }

        for (var i = 0; i < ops.Replace.Length; i++)
        {
            var name = ops.Replace[i].Name;
            var at = query.FindIndex(p => p.Key == name);
            if (at >= 0)
            {
                query.RemoveAll(p => p.Key == name);
                query.Insert(Math.Min(at, query.Count), new(name, values[0][i]));
            }
        }

        for (var i = 0; i < ops.Add.Length; i++)
        {
            if (!query.Exists(p => p.Key == ops.Add[i].Name))
            {
                query.Add(new(ops.Add[i].Name, values[1][i]));
            }
        }

        for (var i = 0; i < ops.Append.Length; i++)
        {
            query.Add(new(ops.Append[i].Name, values[2][i]));
        }
    }

    /// <summary>
    /// Kong's transform_method for GET, HEAD and TRACE: every form field joins the query, as another value of a
    /// parameter already there (placed after its values, as Kong groups them) or as a new parameter at the end.
    /// </summary>
    public static void Merge(List<KeyValuePair<string, string?>> query, List<KeyValuePair<string, string?>> fields)
    {
        foreach (var field in fields)
        {
            var last = query.FindLastIndex(p => p.Key == field.Key);
            query.Insert(last < 0 ? query.Count : last + 1, field);
        }
    }
}
