using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// Protobuf binary -> JSON for one message type, following the proto3 JSON mapping
/// (https://protobuf.dev/programming-guides/json/) as Google's JsonFormatter writes it: lowerCamelCase
/// (json_name) keys in field-number order, fields without presence omitted at their default value,
/// 64-bit integers as strings, enums by name, bytes as standard base64, the well-known types' forms.
/// Unknown fields are skipped. Table-driven by <see cref="ProtoMessage"/>.
/// </summary>
internal sealed class ProtoToJson(ProtoSchema schema)
{
    private const int MaxDepth = 100;

    /// <summary>One value off the wire: the varint or fixed bits, or the bytes of a length-delimited field.</summary>
    private readonly record struct Raw(ulong Bits, ByteString? Bytes = null);

    /// <summary>Writes <paramref name="data"/> as <paramref name="message"/>; false when the bytes are not a valid message of that type.</summary>
    public bool TryWrite(Utf8JsonWriter writer, ProtoMessage message, ByteString data, string? onlyField, out string? error)
    {
        try
        {
            if (onlyField is null)
            {
                WriteMessage(writer, message, data, 0);
            }
            else
            {
                // response_body: the JSON of one field of the response, or its default when unset.
                var field = message.ByName[onlyField];
                var values = Collect(message, data);
                WriteFieldValue(writer, field, values[field.Index], 0);
            }

            error = null;
            return true;
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or TranscodeException or ArgumentOutOfRangeException)
        {
            error = e.Message;
            return false;
        }
    }

    private void WriteMessage(Utf8JsonWriter writer, ProtoMessage message, ByteString data, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TranscodeException("", "the message nests too deeply");
        }

        var values = Collect(message, data);
        switch (message.Kind)
        {
            case WellKnown.Timestamp:
            case WellKnown.Duration:
                var seconds = (long)Last(values[0]).Bits;
                var nanos = (int)Last(values[1]).Bits;
                if (message.Kind == WellKnown.Timestamp)
                {
                    if (seconds is < WellKnownText.MinTimestampSeconds or > WellKnownText.MaxTimestampSeconds || nanos is < 0 or > 999_999_999)
                    {
                        throw new TranscodeException("", "a Timestamp is out of range");
                    }

                    writer.WriteStringValue(WellKnownText.FormatTimestamp(seconds, nanos));
                }
                else
                {
                    writer.WriteStringValue(WellKnownText.FormatDuration(seconds, nanos));
                }

                return;
            case WellKnown.FieldMask:
                var paths = values[0] is { } list ? list.Select(p => WellKnownText.ToCamelPath(p.Bytes!.ToStringUtf8())) : [];
                writer.WriteStringValue(string.Join(',', paths));
                return;
            case WellKnown.Wrapper:
                WriteFieldValue(writer, message.Fields[0], values[0], depth);
                return;
            case WellKnown.Struct:
                WriteMap(writer, message.Fields[0], values[0], depth);
                return;
            case WellKnown.ListValue:
                WriteArray(writer, message.Fields[0], values[0], depth);
                return;
            case WellKnown.Value:
                for (var i = 0; i < values.Length; i++)
                {
                    if (values[i] is { Count: > 0 })
                    {
                        WriteFieldValue(writer, message.Fields[i], values[i], depth);
                        return;
                    }
                }

                writer.WriteNullValue();
                return;
            case WellKnown.Any:
                WriteAny(writer, values, depth);
                return;
        }

        writer.WriteStartObject();
        foreach (var field in message.Fields)
        {
            var list = values[field.Index];
            if (list is not { Count: > 0 } || !field.HasPresence && !field.IsRepeated && IsDefault(Last(list)))
            {
                continue;
            }

            writer.WritePropertyName(field.JsonName);
            WriteFieldValue(writer, field, list, depth);
        }

        writer.WriteEndObject();
    }

    /// <summary>The field's JSON value: an object for a map, an array for repeated, else its last (or merged) value.</summary>
    private void WriteFieldValue(Utf8JsonWriter writer, ProtoField field, List<Raw>? list, int depth)
    {
        if (field.IsMap)
        {
            WriteMap(writer, field, list, depth);
        }
        else if (field.IsRepeated)
        {
            WriteArray(writer, field, list, depth);
        }
        else if (field.Message is { } message)
        {
            // A message field seen more than once is merged: the concatenation of its encodings.
            var bytes = list is null ? ByteString.Empty
                : list.Count == 1 ? list[0].Bytes!
                : ByteString.CopyFrom([.. list.SelectMany(r => r.Bytes!.ToByteArray())]);
            WriteMessage(writer, message, bytes, depth + 1);
        }
        else
        {
            WriteScalar(writer, field, list is { Count: > 0 } ? list[^1] : default, depth);
        }
    }

    private void WriteArray(Utf8JsonWriter writer, ProtoField field, List<Raw>? list, int depth)
    {
        writer.WriteStartArray();
        if (list is not null)
        {
            foreach (var raw in list)
            {
                WriteScalar(writer, field, raw, depth);
            }
        }

        writer.WriteEndArray();
    }

    private void WriteMap(Utf8JsonWriter writer, ProtoField field, List<Raw>? list, int depth)
    {
        writer.WriteStartObject();
        if (list is not null)
        {
            var entryType = field.Message!;
            // Later entries with the same key replace earlier ones; the first position is kept.
            var entries = new Dictionary<string, List<Raw>?>(StringComparer.Ordinal);
            foreach (var raw in list)
            {
                var entry = Collect(entryType, raw.Bytes!);
                entries[KeyText(field.MapKey, Last(entry[0]))] = entry[1];
            }

            foreach (var (key, value) in entries)
            {
                writer.WritePropertyName(key);
                WriteFieldValue(writer, field.MapValue, value, depth);
            }
        }

        writer.WriteEndObject();
    }

    private static string KeyText(ProtoField key, Raw raw) => key.Type switch
    {
        FieldType.String => raw.Bytes?.ToStringUtf8() ?? "",
        FieldType.Bool => raw.Bits != 0 ? "true" : "false",
        _ => IntegerText(key.Type, raw.Bits),
    };

    private static string IntegerText(FieldType type, ulong bits) => type switch
    {
        FieldType.Int32 or FieldType.SFixed32 => ((int)bits).ToString(CultureInfo.InvariantCulture),
        FieldType.SInt32 => ZigZag32((uint)bits).ToString(CultureInfo.InvariantCulture),
        FieldType.UInt32 or FieldType.Fixed32 => ((uint)bits).ToString(CultureInfo.InvariantCulture),
        FieldType.Int64 or FieldType.SFixed64 => ((long)bits).ToString(CultureInfo.InvariantCulture),
        FieldType.SInt64 => ZigZag64(bits).ToString(CultureInfo.InvariantCulture),
        _ => bits.ToString(CultureInfo.InvariantCulture),
    };

    private static int ZigZag32(uint n) => (int)(n >> 1) ^ -(int)(n & 1);

    private static long ZigZag64(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private void WriteScalar(Utf8JsonWriter writer, ProtoField field, Raw raw, int depth)
    {
        switch (field.Type)
        {
            case FieldType.Message or FieldType.Group:
                WriteMessage(writer, field.Message!, raw.Bytes ?? ByteString.Empty, depth + 1);
                break;
            case FieldType.Enum:
                var protoEnum = field.Enum!;
                if (protoEnum.IsNullValue)
                {
                    writer.WriteNullValue();
                }
                else if (protoEnum.ByNumber.TryGetValue((int)raw.Bits, out var name))
                {
                    writer.WriteStringValue(name);
                }
                else
                {
                    writer.WriteNumberValue((int)raw.Bits);
                }

                break;
            case FieldType.Bool:
                writer.WriteBooleanValue(raw.Bits != 0);
                break;
            case FieldType.String:
                writer.WriteStringValue(raw.Bytes?.ToStringUtf8() ?? "");
                break;
            case FieldType.Bytes:
                writer.WriteBase64StringValue(raw.Bytes is null ? [] : raw.Bytes.Span);
                break;
            case FieldType.Double:
                WriteFloating(writer, BitConverter.Int64BitsToDouble((long)raw.Bits), single: false);
                break;
            case FieldType.Float:
                WriteFloating(writer, BitConverter.Int32BitsToSingle((int)(uint)raw.Bits), single: true);
                break;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.UInt32 or FieldType.Fixed32:
                writer.WriteRawValue(IntegerText(field.Type, raw.Bits), skipInputValidation: true);
                break;
            default:
                // 64-bit integers are strings: JavaScript numbers lose precision above 2^53.
                writer.WriteStringValue(IntegerText(field.Type, raw.Bits));
                break;
        }
    }

    private static void WriteFloating(Utf8JsonWriter writer, double value, bool single)
    {
        if (double.IsNaN(value))
        {
            writer.WriteStringValue("NaN");
        }
        else if (double.IsInfinity(value))
        {
            writer.WriteStringValue(value > 0 ? "Infinity" : "-Infinity");
        }
        else if (single)
        {
            writer.WriteNumberValue((float)value);
        }
        else
        {
            writer.WriteNumberValue(value);
        }
    }

    private void WriteAny(Utf8JsonWriter writer, List<Raw>?[] values, int depth)
    {
        var typeUrl = values[0] is { Count: > 0 } url ? url[^1].Bytes!.ToStringUtf8() : "";
        if (typeUrl.Length == 0)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
            return;
        }

        var message = schema.Message(typeUrl[(typeUrl.LastIndexOf('/') + 1)..])
            ?? throw new TranscodeException("", $"Any holds type '{typeUrl}', which is not in the descriptor set");
        var body = values[1] is { Count: > 0 } value ? value[^1].Bytes! : ByteString.Empty;
        writer.WriteStartObject();
        writer.WriteString("@type", typeUrl);
        if (message.Kind is WellKnown.None or WellKnown.Empty)
        {
            // The message's own members, after @type.
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var inner = new Utf8JsonWriter(buffer))
            {
                WriteMessage(inner, message, body, depth + 1);
            }

            using var document = JsonDocument.Parse(buffer.WrittenMemory);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                property.WriteTo(writer);
            }
        }
        else
        {
            writer.WritePropertyName("value");
            WriteMessage(writer, message, body, depth + 1);
        }

        writer.WriteEndObject();
    }

    private static bool IsDefault(Raw raw) => raw.Bits == 0 && (raw.Bytes is null || raw.Bytes.Length == 0);

    private static Raw Last(List<Raw>? list) => list is { Count: > 0 } ? list[^1] : default;

    /// <summary>Reads every field of one message: repeated values in order, packed or not; the last of a singular one.</summary>
    private static List<Raw>?[] Collect(ProtoMessage message, ByteString data)
    {
        var values = new List<Raw>?[message.Fields.Length];
        var input = data.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = message.Field(WireFormat.GetTagFieldNumber(tag));
            if (field is null)
            {
                input.SkipLastField();
                continue;
            }

            var wire = WireFormat.GetTagWireType(tag);
            var expected = WireTypeOf(field.Type);
            var list = values[field.Index] ??= [];
            if (!field.IsRepeated)
            {
                if (field.Type is not (FieldType.Message or FieldType.Group))
                {
                    list.Clear();
                }

                if (field.Oneof >= 0)
                {
                    // The last member of a oneof on the wire wins.
                    foreach (var other in message.Fields)
                    {
                        if (other.Oneof == field.Oneof && other != field)
                        {
                            values[other.Index] = null;
                        }
                    }
                }
            }

            if (wire == WireFormat.WireType.LengthDelimited && field.IsPackable)
            {
                var packed = input.ReadBytes().CreateCodedInput();
                while (!packed.IsAtEnd)
                {
                    list.Add(Read(packed, expected));
                }
            }
            else if (wire == expected)
            {
                list.Add(Read(input, wire));
            }
            else
            {
                throw new TranscodeException(field.Name, $"field {field.Name} of {message.FullName} has wire type {wire}, expected {expected}");
            }
        }

        return values;
    }

    private static Raw Read(CodedInputStream input, WireFormat.WireType wire) => wire switch
    {
        WireFormat.WireType.Varint => new Raw(input.ReadUInt64()),
        WireFormat.WireType.Fixed32 => new Raw(input.ReadFixed32()),
        WireFormat.WireType.Fixed64 => new Raw(input.ReadFixed64()),
        _ => new Raw(0, input.ReadBytes()),
    };

    internal static WireFormat.WireType WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => WireFormat.WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => WireFormat.WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => WireFormat.WireType.LengthDelimited,
        FieldType.Group => WireFormat.WireType.StartGroup,
        _ => WireFormat.WireType.Varint,
    };
}
