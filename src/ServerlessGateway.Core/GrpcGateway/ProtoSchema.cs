using System.Collections.Frozen;
using Google.Protobuf.Reflection;

namespace ServerlessGateway.GrpcGateway;

/// <summary>The JSON shapes of the well-known types (https://protobuf.dev/programming-guides/json/).</summary>
internal enum WellKnown
{
    None, Timestamp, Duration, FieldMask, Struct, Value, ListValue, Wrapper, Empty, Any,
}

/// <summary>
/// A message type compiled for the codec: fields by number and by both JSON names (json_name and the
/// proto name, as the proto3 JSON mapping accepts on input), built once per snapshot.
/// </summary>
internal sealed class ProtoMessage
{
    public ProtoMessage(MessageDescriptor descriptor)
    {
        Descriptor = descriptor;
        Kind = descriptor.FullName switch
        {
            "google.protobuf.Timestamp" => WellKnown.Timestamp,
            "google.protobuf.Duration" => WellKnown.Duration,
            "google.protobuf.FieldMask" => WellKnown.FieldMask,
            "google.protobuf.Struct" => WellKnown.Struct,
            "google.protobuf.Value" => WellKnown.Value,
            "google.protobuf.ListValue" => WellKnown.ListValue,
            "google.protobuf.Empty" => WellKnown.Empty,
            "google.protobuf.Any" => WellKnown.Any,
            "google.protobuf.DoubleValue" or "google.protobuf.FloatValue" or "google.protobuf.Int64Value"
                or "google.protobuf.UInt64Value" or "google.protobuf.Int32Value" or "google.protobuf.UInt32Value"
                or "google.protobuf.BoolValue" or "google.protobuf.StringValue" or "google.protobuf.BytesValue" => WellKnown.Wrapper,
            _ => WellKnown.None,
        };
    }

    public MessageDescriptor Descriptor { get; }

    public string FullName => Descriptor.FullName;

    public WellKnown Kind { get; }

    /// <summary>In field-number order, the order output is written in (as Google's JsonFormatter).</summary>
    public ProtoField[] Fields { get; private set; } = [];

    public FrozenDictionary<int, ProtoField> ByNumber { get; private set; } = FrozenDictionary<int, ProtoField>.Empty;

    public FrozenDictionary<string, ProtoField> ByName { get; private set; } = FrozenDictionary<string, ProtoField>.Empty;

    public ProtoField? Field(int number) => ByNumber.GetValueOrDefault(number);

    internal void Link(ProtoSchema schema)
    {
        var fields = Descriptor.Fields.InFieldNumberOrder().Select((f, i) => new ProtoField(f, i, schema)).ToArray();
        Fields = fields;
        ByNumber = fields.ToFrozenDictionary(f => f.Number);
        var names = new Dictionary<string, ProtoField>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            names[field.Name] = field;
            names.TryAdd(field.JsonName, field);
        }

        ByName = names.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

/// <summary>A field compiled for the codec.</summary>
internal sealed class ProtoField
{
    public ProtoField(FieldDescriptor descriptor, int index, ProtoSchema schema)
    {
        Descriptor = descriptor;
        Index = index;
        Name = descriptor.Name;
        JsonName = descriptor.JsonName;
        Number = descriptor.FieldNumber;
        Type = descriptor.FieldType;
        IsRepeated = descriptor.IsRepeated;
        IsMap = descriptor.IsMap;
        HasPresence = descriptor.HasPresence;
        Oneof = descriptor.RealContainingOneof?.Index ?? -1;
        OneofName = descriptor.RealContainingOneof?.Name;
        _schema = schema;
        Enum = Type == FieldType.Enum ? schema.Enum(descriptor.EnumType) : null;
    }

    private readonly ProtoSchema _schema;

    public FieldDescriptor Descriptor { get; }

    /// <summary>Position in <see cref="ProtoMessage.Fields"/>.</summary>
    public int Index { get; }

    public string Name { get; }

    public string JsonName { get; }

    public int Number { get; }

    public FieldType Type { get; }

    public bool IsRepeated { get; }

    public bool IsMap { get; }

    /// <summary>proto3: messages, oneof members and <c>optional</c> fields; others are omitted at their default value.</summary>
    public bool HasPresence { get; }

    /// <summary>Index of the (real) oneof this field belongs to, or -1.</summary>
    public int Oneof { get; }

    public string? OneofName { get; }

    public ProtoEnum? Enum { get; }

    /// <summary>The message type (also a map's entry type), resolved on first use: types may refer to each other.</summary>
    public ProtoMessage? Message => Type is FieldType.Message or FieldType.Group ? _schema.Message(Descriptor.MessageType) : null;

    public ProtoField MapKey => Message!.Fields[0];

    public ProtoField MapValue => Message!.Fields[1];

    /// <summary>Scalars that may come packed (every numeric type: varint, fixed32, fixed64).</summary>
    public bool IsPackable => IsRepeated && Type is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);
}

/// <summary>An enum compiled for the codec.</summary>
internal sealed class ProtoEnum(EnumDescriptor descriptor)
{
    public string FullName { get; } = descriptor.FullName;

    /// <summary><c>google.protobuf.NullValue</c> is JSON <c>null</c>.</summary>
    public bool IsNullValue { get; } = descriptor.FullName == "google.protobuf.NullValue";

    public FrozenDictionary<string, int> ByName { get; } = descriptor.Values.ToFrozenDictionary(v => v.Name, v => v.Number, StringComparer.Ordinal);

    // Aliases (allow_alias) share a number: the first name is the one written, as protoc's generated code does.
    public FrozenDictionary<int, string> ByNumber { get; } = descriptor.Values.GroupBy(v => v.Number).ToFrozenDictionary(g => g.Key, g => g.First().Name);
}

/// <summary>Every message and enum of a descriptor set, compiled once.</summary>
internal sealed class ProtoSchema
{
    private readonly Dictionary<string, ProtoMessage> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProtoEnum> _enums = new(StringComparer.Ordinal);

    public ProtoSchema(IEnumerable<FileDescriptor> files)
    {
        foreach (var file in files)
        {
            foreach (var message in file.MessageTypes)
            {
                Add(message);
            }

            foreach (var e in file.EnumTypes)
            {
                _enums[e.FullName] = new ProtoEnum(e);
            }
        }

        foreach (var message in _messages.Values)
        {
            message.Link(this);
        }
    }

    private void Add(MessageDescriptor descriptor)
    {
        _messages[descriptor.FullName] = new ProtoMessage(descriptor);
        foreach (var nested in descriptor.NestedTypes)
        {
            Add(nested);
        }

        foreach (var e in descriptor.EnumTypes)
        {
            _enums[e.FullName] = new ProtoEnum(e);
        }
    }

    public ProtoMessage Message(MessageDescriptor descriptor) => _messages[descriptor.FullName];

    public ProtoMessage? Message(string fullName) => _messages.GetValueOrDefault(fullName);

    public ProtoEnum Enum(EnumDescriptor descriptor)
    {
        if (!_enums.TryGetValue(descriptor.FullName, out var e))
        {
            e = _enums[descriptor.FullName] = new ProtoEnum(descriptor);
        }

        return e;
    }
}
