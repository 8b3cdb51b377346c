using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// JSON -> protobuf binary for one message type, following the proto3 JSON mapping
/// (https://protobuf.dev/programming-guides/json/): both json_name and proto names, 64-bit integers as
/// numbers or strings, enums by name or number, bytes in standard or URL-safe base64, the well-known
/// types' special forms, <c>null</c> as the default value. Table-driven by <see cref="ProtoMessage"/>.
/// </summary>
internal sealed class JsonToProto(ProtoSchema schema, bool ignoreUnknownFields)
{
    /// <summary>Encodes <paramref name="json"/> as <paramref name="message"/>; on failure names the field and why.</summary>
    public bool TryEncode(JsonNode? json, ProtoMessage message, out ByteString bytes, out TranscodeError? error)
    {
        try
        {
            bytes = Nested(json, message, "");
            error = null;
            return true;
        }
        catch (TranscodeException e)
        {
            bytes = ByteString.Empty;
            error = new TranscodeError(e.Field, e.Message);
            return false;
        }
    }

    private ByteString Nested(JsonNode? json, ProtoMessage message, string path)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer, leaveOpen: true);
        WriteMessage(json, message, output, path);
        output.Flush();
        return UnsafeByteOperations.UnsafeWrap(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    private void WriteMessage(JsonNode? json, ProtoMessage message, CodedOutputStream output, string path)
    {
        switch (message.Kind)
        {
            case WellKnown.Timestamp:
                var text = Text(json, path, "an RFC 3339 timestamp string");
                if (!WellKnownText.TryParseTimestamp(text, out var seconds, out var nanos))
                {
                    throw new TranscodeException(path, $"'{text}' is not an RFC 3339 timestamp between years 0001 and 9999");
                }

                WriteSecondsNanos(output, seconds, nanos);
                return;
            case WellKnown.Duration:
                text = Text(json, path, "a duration string such as \"1.5s\"");
                if (!WellKnownText.TryParseDuration(text, out seconds, out nanos))
                {
                    throw new TranscodeException(path, $"'{text}' is not a duration such as \"1.5s\"");
                }

                WriteSecondsNanos(output, seconds, nanos);
                return;
            case WellKnown.FieldMask:
                text = Text(json, path, "a comma-separated field mask string");
                foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var snake = WellKnownText.ToSnakePath(item) ?? throw new TranscodeException(path, $"field mask path '{item}' is not lowerCamelCase");
                    output.WriteTag(1, WireFormat.WireType.LengthDelimited);
                    output.WriteString(snake);
                }

                return;
            case WellKnown.Wrapper:
                WriteSingle(message.Fields[0], json, output, path, skipDefault: true);
                return;
            case WellKnown.Struct:
                WriteMap(message.Fields[0], Object(json, path), output, path);
                return;
            case WellKnown.ListValue:
                WriteRepeated(message.Fields[0], json, output, path);
                return;
            case WellKnown.Value:
                WriteValue(json, output, path);
                return;
            case WellKnown.Any:
                WriteAny(Object(json, path), output, path);
                return;
        }

        var fields = Object(json, path);
        Span<int> oneofs = stackalloc int[Math.Min(message.Descriptor.Oneofs.Count, 64)];
        oneofs.Clear();
        HashSet<int>? seen = null;
        foreach (var (key, value) in fields)
        {
            var fieldPath = Join(path, key);
            if (!message.ByName.TryGetValue(key, out var field))
            {
                if (ignoreUnknownFields)
                {
                    continue;
                }

                throw new TranscodeException(fieldPath, $"unknown field (message {message.FullName} has no field '{key}')");
            }

            if (!(seen ??= []).Add(field.Number))
            {
                throw new TranscodeException(fieldPath, $"field '{field.Name}' is given twice (as '{field.Name}' and '{field.JsonName}')");
            }

            if (value is null && !AcceptsNull(field))
            {
                continue;
            }

            if (field.Oneof >= 0 && field.Oneof < oneofs.Length)
            {
                if (oneofs[field.Oneof] != 0)
                {
                    throw new TranscodeException(fieldPath, $"only one field of oneof '{field.OneofName}' may be set");
                }

                oneofs[field.Oneof] = field.Number;
            }

            WriteField(field, value, output, fieldPath);
        }
    }

    /// <summary>JSON null is the default value, except where null is itself a value (Value, NullValue).</summary>
    private static bool AcceptsNull(ProtoField field) =>
        !field.IsRepeated && (field.Enum?.IsNullValue == true || field.Message?.Kind == WellKnown.Value);

    private void WriteField(ProtoField field, JsonNode? value, CodedOutputStream output, string path)
    {
        if (field.IsMap)
        {
            WriteMap(field, Object(value, path), output, path);
        }
        else if (field.IsRepeated)
        {
            WriteRepeated(field, value, output, path);
        }
        else
        {
            WriteSingle(field, value, output, path, skipDefault: !field.HasPresence);
        }
    }

    private void WriteRepeated(ProtoField field, JsonNode? value, CodedOutputStream output, string path)
    {
        if (value is null)
        {
            return;
        }

        if (value is not JsonArray array)
        {
            throw new TranscodeException(path, $"expected a JSON array, got {Describe(value)}");
        }

        for (var i = 0; i < array.Count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (array[i] is null && field.Message?.Kind != WellKnown.Value)
            {
                throw new TranscodeException(itemPath, "null is not allowed in a repeated field");
            }

            WriteSingle(field, array[i], output, itemPath, skipDefault: false);
        }
    }

    private void WriteMap(ProtoField field, JsonObject entries, CodedOutputStream output, string path)
    {
        var keyField = field.MapKey;
        var valueField = field.MapValue;
        foreach (var (key, value) in entries)
        {
            var entryPath = Join(path, key);
            JsonNode keyNode = keyField.Type == FieldType.Bool
                ? key switch
                {
                    "true" => JsonValue.Create(true),
                    "false" => JsonValue.Create(false),
                    _ => throw new TranscodeException(entryPath, $"map key '{key}' is not true or false"),
                }
                : JsonValue.Create(key);
            if (value is null && valueField.Message?.Kind != WellKnown.Value)
            {
                throw new TranscodeException(entryPath, "null is not allowed as a map value");
            }

            using var buffer = new MemoryStream();
            var entry = new CodedOutputStream(buffer, leaveOpen: true);
            WriteSingle(keyField, keyNode, entry, entryPath, skipDefault: false);
            WriteSingle(valueField, value, entry, entryPath, skipDefault: false);
            entry.Flush();
            output.WriteTag(field.Number, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(UnsafeByteOperations.UnsafeWrap(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)));
        }
    }

    private void WriteSingle(ProtoField field, JsonNode? value, CodedOutputStream output, string path, bool skipDefault)
    {
        if (field.Message is { } message)
        {
            var bytes = Nested(value, message, path);
            output.WriteTag(field.Number, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(bytes);
            return;
        }

        if (field.Enum is { } protoEnum)
        {
            if (EnumNumber(protoEnum, value, path) is { } number && (number != 0 || !skipDefault))
            {
                output.WriteTag(field.Number, WireFormat.WireType.Varint);
                output.WriteEnum(number);
            }

            return;
        }

        WriteScalar(field.Type, field.Number, value, output, path, skipDefault);
    }

    private int? EnumNumber(ProtoEnum protoEnum, JsonNode? value, string path)
    {
        if (protoEnum.IsNullValue && value is null)
        {
            return 0;
        }

        switch (value?.GetValueKind())
        {
            case JsonValueKind.String:
                var name = value.GetValue<string>();
                if (protoEnum.ByName.TryGetValue(name, out var number))
                {
                    return number;
                }

                return ignoreUnknownFields ? null : throw new TranscodeException(path, $"'{name}' is not a value of enum {protoEnum.FullName}");
            case JsonValueKind.Number:
                // proto3 enums are open: any int32 is accepted.
                return (int)Integer(value, path, int.MinValue, int.MaxValue, "int32");
            default:
                throw new TranscodeException(path, $"expected an enum name or number, got {Describe(value)}");
        }
    }

    private static void WriteScalar(FieldType type, int number, JsonNode? value, CodedOutputStream output, string path, bool skipDefault)
    {
        switch (type)
        {
            case FieldType.Bool:
                if (value?.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new TranscodeException(path, $"expected true or false, got {Describe(value)}");
                }

                var flag = value.GetValue<bool>();
                if (flag || !skipDefault)
                {
                    output.WriteTag(number, WireFormat.WireType.Varint);
                    output.WriteBool(flag);
                }

                return;
            case FieldType.String:
                var text = Text(value, path, "a string");
                if (text.Length > 0 || !skipDefault)
                {
                    output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                    output.WriteString(text);
                }

                return;
            case FieldType.Bytes:
                var bytes = Base64(Text(value, path, "a base64 string"), path);
                if (bytes.Length > 0 || !skipDefault)
                {
                    output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(ByteString.CopyFrom(bytes));
                }

                return;
            case FieldType.Double:
                var d = Floating(value, path, single: false);
                if (BitConverter.DoubleToInt64Bits(d) != 0 || !skipDefault)
                {
                    output.WriteTag(number, WireFormat.WireType.Fixed64);
                    output.WriteDouble(d);
                }

                return;
            case FieldType.Float:
                var f = (float)Floating(value, path, single: true);
                if (BitConverter.SingleToInt32Bits(f) != 0 || !skipDefault)
                {
                    output.WriteTag(number, WireFormat.WireType.Fixed32);
                    output.WriteFloat(f);
                }

                return;
        }

        var (min, max, name) = type switch
        {
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => ((decimal)int.MinValue, (decimal)int.MaxValue, "int32"),
            FieldType.UInt32 or FieldType.Fixed32 => (0m, (decimal)uint.MaxValue, "uint32"),
            FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => ((decimal)long.MinValue, (decimal)long.MaxValue, "int64"),
            _ => (0m, (decimal)ulong.MaxValue, "uint64"),
        };
        var integer = Integer(value, path, min, max, name);
        if (integer == 0 && skipDefault)
        {
            return;
        }

        output.WriteTag(number, ProtoToJson.WireTypeOf(type));
        switch (type)
        {
            case FieldType.Int32: output.WriteInt32((int)integer); break;
            case FieldType.SInt32: output.WriteSInt32((int)integer); break;
            case FieldType.SFixed32: output.WriteSFixed32((int)integer); break;
            case FieldType.UInt32: output.WriteUInt32((uint)integer); break;
            case FieldType.Fixed32: output.WriteFixed32((uint)integer); break;
            case FieldType.Int64: output.WriteInt64((long)integer); break;
            case FieldType.SInt64: output.WriteSInt64((long)integer); break;
            case FieldType.SFixed64: output.WriteSFixed64((long)integer); break;
            case FieldType.UInt64: output.WriteUInt64((ulong)integer); break;
            default: output.WriteFixed64((ulong)integer); break;
        }
    }

    /// <summary>An integer from a JSON number or a string holding one (exponents allowed when the value is integral).</summary>
    private static decimal Integer(JsonNode? value, string path, decimal min, decimal max, string type)
    {
        var text = value?.GetValueKind() switch
        {
            JsonValueKind.Number => value.ToJsonString(),
            JsonValueKind.String => value.GetValue<string>(),
            _ => throw new TranscodeException(path, $"expected an {type} number or numeric string, got {Describe(value)}"),
        };
        if (!decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number)
            || decimal.Truncate(number) != number)
        {
            throw new TranscodeException(path, $"'{text}' is not an integer");
        }

        if (number < min || number > max)
        {
            throw new TranscodeException(path, $"{text} is out of range for {type}");
        }

        return number;
    }

    private static double Floating(JsonNode? value, string path, bool single)
    {
        double number;
        switch (value?.GetValueKind())
        {
            case JsonValueKind.Number:
                number = value.GetValue<double>();
                break;
            case JsonValueKind.String:
                var text = value.GetValue<string>();
                number = text switch
                {
                    "NaN" => double.NaN,
                    "Infinity" => double.PositiveInfinity,
                    "-Infinity" => double.NegativeInfinity,
                    _ when double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed) => parsed,
                    _ => throw new TranscodeException(path, $"'{text}' is not a number"),
                };
                break;
            default:
                throw new TranscodeException(path, $"expected a number, got {Describe(value)}");
        }

        // Out of range means rounding to float overflows, as in Google's parsers: 3.4028235e38, the shortest text of
        // float.MaxValue that JsonFormatter writes, is a little above float.MaxValue as a double.
        if (single && double.IsFinite(number) && float.IsInfinity((float)number))
        {
            throw new TranscodeException(path, $"{number.ToString(CultureInfo.InvariantCulture)} is out of range for float");
        }

        return number;
    }

    /// <summary>Standard or URL-safe base64, padding optional.</summary>
    private static byte[] Base64(string text, string path)
    {
        var normalized = text.Replace('-', '+').Replace('_', '/');
        if (normalized.Length % 4 != 0)
        {
            normalized = normalized.PadRight(normalized.Length + 4 - normalized.Length % 4, '=');
        }

        var bytes = new byte[normalized.Length / 4 * 3];
        return Convert.TryFromBase64String(normalized, bytes, out var written)
            ? bytes[..written]
            : throw new TranscodeException(path, "not valid base64");
    }

    private void WriteValue(JsonNode? json, CodedOutputStream output, string path)
    {
        switch (json?.GetValueKind())
        {
            case null or JsonValueKind.Null:
                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteEnum(0);
                break;
            case JsonValueKind.Number:
                output.WriteTag(2, WireFormat.WireType.Fixed64);
                output.WriteDouble(json.GetValue<double>());
                break;
            case JsonValueKind.String:
                output.WriteTag(3, WireFormat.WireType.LengthDelimited);
                output.WriteString(json.GetValue<string>());
                break;
            case JsonValueKind.True or JsonValueKind.False:
                output.WriteTag(4, WireFormat.WireType.Varint);
                output.WriteBool(json.GetValue<bool>());
                break;
            case JsonValueKind.Object:
                output.WriteTag(5, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(Nested(json, schema.Message("google.protobuf.Struct") ?? Missing("google.protobuf.Struct", path), path));
                break;
            default:
                output.WriteTag(6, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(Nested(json, schema.Message("google.protobuf.ListValue") ?? Missing("google.protobuf.ListValue", path), path));
                break;
        }
    }

    /// <summary><c>{"@type": "type.googleapis.com/pkg.Msg", ...fields}</c>; a well-known type's JSON sits in <c>value</c>.</summary>
    private void WriteAny(JsonObject json, CodedOutputStream output, string path)
    {
        if (json.Count == 0)
        {
            return;
        }

        var typeUrl = json["@type"] is { } type && type.GetValueKind() == JsonValueKind.String ? type.GetValue<string>()
            : throw new TranscodeException(Join(path, "@type"), "an Any needs a string '@type'");
        var message = schema.Message(typeUrl[(typeUrl.LastIndexOf('/') + 1)..])
            ?? throw new TranscodeException(Join(path, "@type"), $"type '{typeUrl}' is not in the descriptor set");
        JsonNode? body;
        if (message.Kind is WellKnown.None or WellKnown.Empty)
        {
            var copy = new JsonObject();
            foreach (var (key, value) in json)
            {
                if (key != "@type")
                {
                    copy[key] = value?.DeepClone();
                }
            }

            body = copy;
        }
        else
        {
            body = json["value"];
        }

        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString(typeUrl);
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Nested(body, message, path));
    }

    private static ProtoMessage Missing(string type, string path) =>
        throw new TranscodeException(path, $"{type} is not in the descriptor set");

    private static void WriteSecondsNanos(CodedOutputStream output, long seconds, int nanos)
    {
        if (seconds != 0)
        {
            output.WriteTag(1, WireFormat.WireType.Varint);
            output.WriteInt64(seconds);
        }

        if (nanos != 0)
        {
            output.WriteTag(2, WireFormat.WireType.Varint);
            output.WriteInt32(nanos);
        }
    }

    private static JsonObject Object(JsonNode? json, string path) =>
        json as JsonObject ?? throw new TranscodeException(path, $"expected a JSON object, got {Describe(json)}");

    private static string Text(JsonNode? json, string path, string expected) =>
        json?.GetValueKind() == JsonValueKind.String ? json.GetValue<string>() : throw new TranscodeException(path, $"expected {expected}, got {Describe(json)}");

    internal static string Describe(JsonNode? json) => json?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => "a boolean",
    };

    internal static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
}

/// <summary>Why a request could not be transcoded, naming the field (a dotted JSON path).</summary>
internal sealed record TranscodeError(string Field, string Message);
