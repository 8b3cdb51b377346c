using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Transforms;

/// <summary>
/// request-transformer's body operations on top-level keys of a JSON object or a form-urlencoded body,
/// with Kong's rules (kong/plugins/request-transformer/access.lua transform_json_body / transform_url_encoded_body):
/// values are strings (Kong's <c>json_types</c> default); <c>append</c> on JSON turns the key into an array.
/// </summary>
internal static class RequestBodyEditor
{
    /// <summary>The edited JSON, or null when the body is empty or not a JSON object (then it is forwarded untouched).</summary>
    public static byte[]? EditJson(byte[] body, RequestTransformerPlugin.Operations ops, string[][] values)
    {
        JsonObject? root;
        try
        {
            root = body.Length == 0 ? null : JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }

        if (root is null)
        {
            return null;
        }

        foreach (var name in ops.Remove)
        {
            root.Remove(name);
        }

        foreach (var (from, to) in ops.Rename)
        {
            if (from != to && root.TryGetPropertyValue(from, out var value))
            {
                root.Remove(from);
                root[to] = value;
            }
        }

        for (var i = 0; i < ops.Replace.Length; i++)
        {
            if (root.ContainsKey(ops.Replace[i].Name))
            {
                root[ops.Replace[i].Name] = values[0][i];
            }
        }

        for (var i = 0; i < ops.Add.Length; i++)
        {
            if (!root.ContainsKey(ops.Add[i].Name))
            {
                root[ops.Add[i].Name] = values[1][i];
            }
        }

        for (var i = 0; i < ops.Append.Length; i++)
        {
            var name = ops.Append[i].Name;
            root.TryGetPropertyValue(name, out var current);
            switch (current)
            {
                case JsonArray array:
                    array.Add(values[2][i]);
                    break;
                case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                    root[name] = new JsonArray(scalar.GetValue<string>(), values[2][i]);
                    break;
                default:
                    root[name] = new JsonArray(values[2][i]);
                    break;
            }
        }

        return JsonSerializer.SerializeToUtf8Bytes(root);
    }

    /// <summary>The edited form body (application/x-www-form-urlencoded), with the querystring rules.</summary>
    public static byte[] EditForm(byte[] body, RequestTransformerPlugin.Operations ops, string[][] values)
    {
        var form = QueryEditor.Parse("?" + Encoding.UTF8.GetString(body));
        QueryEditor.Apply(form, ops, values);
        var rebuilt = QueryEditor.Build(form);
        return Encoding.UTF8.GetBytes(rebuilt.Length == 0 ? "" : rebuilt[1..]);
    }
}
