using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Transforms;

/// <summary>
/// response-transformer's JSON body operations with Kong's rules
/// (kong/plugins/response-transformer/body_transformer.lua): remove, rename, replace, add, append in that
/// order; <c>replace</c> only present keys, <c>add</c> only absent ones, <c>append</c> turns the key into
/// an array. Plain keys edit the top-level object; our JSON paths reach nested members.
/// </summary>
internal static class ResponseBodyEditor
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The outcome of one edit: the new body, or why the body stays as it was.</summary>
    public enum Outcome { Edited, InvalidJson }

    /// <summary>Edits <paramref name="body"/>; on <see cref="Outcome.Edited"/> the result is in <paramref name="output"/>.</summary>
    public static Outcome Edit(ReadOnlySpan<byte> body, ResponseTransformerPlugin.JsonOperations ops, ArrayBufferWriter<byte> output)
    {
        if (body.StartsWith("\uFEFF"u8))
        {
            body = body[3..];
        }

        try
        {
            var root = JsonNode.Parse(body);
            if (root is null)
            {
                return Outcome.InvalidJson;
            }

            Apply(root, ops);
            using var writer = new Utf8JsonWriter(output, WriterOptions);
            root.WriteTo(writer);
            return Outcome.Edited;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // Not JSON, or an object with duplicate keys (JsonObject refuses them): Kong leaves such a body as it is.
            return Outcome.InvalidJson;
        }
    }

    private static void Apply(JsonNode root, ResponseTransformerPlugin.JsonOperations ops)
    {
        var obj = root as JsonObject;
        foreach (var target in ops.Remove)
        {
            if (target.Path is { } path)
            {
                path.Remove(root);
            }
            else
            {
                obj?.Remove(target.Key);
            }
        }

        if (obj is not null)
        {
            foreach (var (from, to) in ops.Rename)
            {
                if (from != to && obj.TryGetPropertyValue(from, out var value))
                {
                    obj.Remove(from);
                    obj[to] = value;
                }
            }
        }

        foreach (var entry in ops.Replace)
        {
            if (entry.Path is { } path)
            {
                path.Replace(root, entry.NewValue);
            }
            else if (obj is not null && obj.ContainsKey(entry.Key))
            {
                obj[entry.Key] = entry.NewValue();
            }
        }

        if (obj is null)
        {
            return;
        }

        foreach (var entry in ops.Add)
        {
            if (!obj.ContainsKey(entry.Key))
            {
                obj[entry.Key] = entry.NewValue();
            }
        }

        foreach (var entry in ops.Append)
        {
            obj.TryGetPropertyValue(entry.Key, out var current);
            switch (current)
            {
                case JsonArray array:
                    array.Add(entry.NewValue());
                    break;
                case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                    obj[entry.Key] = new JsonArray(scalar.DeepClone(), entry.NewValue());
                    break;
                default:
                    // Kong's append_value: anything but a string or an array is replaced by a new array.
                    obj[entry.Key] = new JsonArray(entry.NewValue());
                    break;
            }
        }
    }
}
