using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// Assembles the request message's JSON from the three places google/api/http.proto maps it from: the
/// body (<c>body: "*"</c> or one field), the path variables, and (unless the body is <c>*</c>) the query
/// parameters, named by field path with dots for nested messages and repeated by repetition. Path
/// variables win over body and query values.
/// </summary>
internal static class RequestMessageBuilder
{
    public static bool TryBuild(HttpBinding binding, string[] pathValues, string query, ReadOnlyMemory<byte> body, bool ignoreUnknownFields,
        out JsonObject message, out TranscodeError? error)
    {
        message = [];
        try
        {
            var input = binding.Method.Input;
            if (binding.Body is not null && body.Length > 0)
            {
                var json = Parse(body, binding.Body == "*" ? "" : binding.Body);
                if (binding.Body == "*")
                {
                    message = json as JsonObject ?? throw new TranscodeException("", $"the body must be a JSON object, got {JsonToProto.Describe(json)}");
                }
                else
                {
                    message[binding.Body] = json;
                }
            }

            var variables = binding.Template.Variables;
            HashSet<string>? bound = null;
            for (var v = 0; v < variables.Length; v++)
            {
                var fieldPath = variables[v].FieldPath;
                Set(message, input, fieldPath, 0, pathValues[v], append: false, ignoreUnknownFields: false);
                (bound ??= new(StringComparer.Ordinal)).Add(string.Join('.', fieldPath));
            }

            if (binding.Body != "*" && query.Length > 1)
            {
                foreach (var (name, values) in QueryHelpers.ParseQuery(query))
                {
                    if (bound?.Contains(name) == true || binding.Body is not null && (name == binding.Body || name.StartsWith(binding.Body + ".", StringComparison.Ordinal)))
                    {
                        continue;
                    }

                    foreach (var value in values)
                    {
                        Set(message, input, name.Split('.'), 0, value ?? "", append: true, ignoreUnknownFields);
                    }
                }
            }

            error = null;
            return true;
        }
        catch (TranscodeException e)
        {
            error = new TranscodeError(e.Field, e.Message);
            return false;
        }
    }

    private static JsonNode? Parse(ReadOnlyMemory<byte> body, string field)
    {
        try
        {
            return JsonNode.Parse(body.Span, documentOptions: new JsonDocumentOptions { MaxDepth = 100 });
        }
        catch (JsonException e)
        {
            throw new TranscodeException(field, $"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Sets (or, for a repeated field, appends) a value given as text, creating nested objects on the way.</summary>
    private static void Set(JsonObject target, ProtoMessage message, string[] fieldPath, int index, string text, bool append, bool ignoreUnknownFields)
    {
        var name = string.Join('.', fieldPath);
        if (!message.ByName.TryGetValue(fieldPath[index], out var field))
        {
            if (ignoreUnknownFields)
            {
                return;
            }

            throw new TranscodeException(name, $"unknown field (message {message.FullName} has no field '{fieldPath[index]}')");
        }

        // The body may hold the field under either JSON name: keep one, under the proto name.
        var existing = target[field.Name] ?? target[field.JsonName];
        target.Remove(field.JsonName);
        target.Remove(field.Name);
        if (index < fieldPath.Length - 1)
        {
            if (field.IsRepeated || field.Message is not { Kind: WellKnown.None } nested)
            {
                throw new TranscodeException(name, $"'{fieldPath[index]}' is not a singular message field, so '{name}' cannot be set from the URL");
            }

            var child = existing as JsonObject ?? [];
            target[field.Name] = child;
            Set(child, nested, fieldPath, index + 1, text, append, ignoreUnknownFields);
            return;
        }

        var value = FromText(field, text, name);
        if (field.IsRepeated && append)
        {
            var array = existing as JsonArray ?? [];
            array.Add(value);
            target[field.Name] = array;
        }
        else if (field.IsRepeated || field.IsMap)
        {
            throw new TranscodeException(name, "a repeated or map field cannot be set from a path segment");
        }
        else
        {
            target[field.Name] = value;
        }
    }

    /// <summary>A URL value as the JSON the codec expects for the field: strings stay strings (the mapping accepts numbers as strings), booleans become JSON booleans.</summary>
    private static JsonNode? FromText(ProtoField field, string text, string name)
    {
        if (field.IsMap)
        {
            throw new TranscodeException(name, "a map field cannot be set from the URL");
        }

        var type = field.Type;
        if (field.Message is { } message)
        {
            switch (message.Kind)
            {
                case WellKnown.Timestamp or WellKnown.Duration or WellKnown.FieldMask or WellKnown.Value:
                    return JsonValue.Create(text);
                case WellKnown.Wrapper:
                    type = message.Fields[0].Type;
                    break;
                default:
                    throw new TranscodeException(name, $"'{name}' is a message field ({message.FullName}), which the URL cannot set; send it in the body");
            }
        }

        if (type == Google.Protobuf.Reflection.FieldType.Bool)
        {
            // As grpc-gateway (Go's strconv.ParseBool).
            return text switch
            {
                "true" or "True" or "TRUE" or "t" or "T" or "1" => JsonValue.Create(true),
                "false" or "False" or "FALSE" or "f" or "F" or "0" => JsonValue.Create(false),
                _ => throw new TranscodeException(name, $"'{text}' is not a boolean"),
            };
        }

        if (type == Google.Protobuf.Reflection.FieldType.Enum && int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(text);
    }
}
