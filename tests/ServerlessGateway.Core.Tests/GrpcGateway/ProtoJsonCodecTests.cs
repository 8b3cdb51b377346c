using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServerlessGateway.GrpcGateway;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.Tests.GrpcGateway;

/// <summary>
/// The codec against the reference implementation of the proto3 JSON mapping: Google.Protobuf's JsonParser
/// and JsonFormatter with the generated types of the same .proto. JSON -> our encoder -> generated parser must
/// equal JsonParser's message; the message -> our decoder must equal JsonFormatter's JSON, keys in the same order.
/// </summary>
public sealed class ProtoJsonCodecTests
{
    private static readonly TypeRegistry Types = TypeRegistry.FromMessages(Address.Descriptor, Thing.Descriptor);
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithTypeRegistry(Types));
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Types));

    public static TheoryData<string> Documents => new()
    {
        """{"name":"n","big":"9007199254740993","ubig":"18446744073709551615","count":-5,"ratio":1.5,"small":0.25,"flag":true,"blob":"AAEC/w==","color":"GREEN"}""",
        """{"big":42,"count":"7","color":1,"small":"1e3","ratio":"NaN","ubig":"0"}""",
        """{"ratio":"-Infinity","small":"Infinity","count":1e2}""",
        """{"maybe_count":3,"customName":"c","by_zip":{"5":{"street_name":"x"}},"renamed_is_not_here":null}""".Replace(",\"renamed_is_not_here\":null", ""),
        """{"renamed":"by proto name","street":null}""".Replace(",\"street\":null", ""),
        """{"tags":["a","b"],"numbers":["1","-2",3],"scores":{"a":1,"b":0},"byZip":{"10":{"streetName":"s","zip":10},"-1":{}},"byFlag":{"true":"y","false":"n"},"ratios":[1.5,-0.5,0],"colors":["RED",2,0]}""",
        """{"home":{"streetName":"Main","zip":1},"others":[{"zip":2},{}],"place":{"zip":3}}""",
        """{"text":"t"}""",
        """{"number":0}""",
        """{"text":""}""",
        """{"created":"2024-02-29T12:34:56.789Z","ttl":"-1.5s","maybeCount":0,"maybeText":"","maybeFlag":false,"maybeBig":"123","maybeRatio":2.5,"maybeBlob":"AQ==","nothing":{}}""",
        """{"extra":{"a":1,"b":[true,null,"x"],"c":{"d":null}},"anyValue":"s","list":[1,{"k":"v"},[]],"mask":"name,home.streetName"}""",
        """{"created":"2024-01-01T00:00:00.123456789+02:00","ttl":"1.000001s"}""",
        """{"created":"1970-01-01T00:00:00Z","ttl":"0s","mask":""}""",
        """{"created":"0001-01-01T00:00:00Z","ttl":"315576000000s"}""",
        """{"zig":-3,"zag":"-4","f32":4294967295,"f64":"18446744073709551615","sf32":-1,"sf64":"-9223372036854775808"}""",
        """{"opt":0}""",
        """{"anyValue":null,"name":null,"home":null,"tags":null}""",
        """{"anyValue":{"k":[1,2]}}""",
        """{"payload":{"@type":"type.googleapis.com/transcoding.v1.Address","streetName":"x","zip":5}}""",
        """{"payload":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"}}""",
        """{"name":"üñí \"quoted\" \u0001","blob":""}""",
        """{}""",
        // Found by ProtoJsonCodecProperties: float.MaxValue as JsonFormatter writes it was rejected as out of range,
        // and a timestamp far from the epoch came back one second early.
        """{"small":3.4028235e+38,"maybeRatio":-1.7976931348623157e+308}""",
        """{"small":-3.4028235E+38}""",
        """{"created":"6064-02-12T14:21:33.824Z"}""",
        """{"created":"9999-12-31T23:59:59.999999999Z"}""",
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void Encoding_json_gives_the_message_that_Googles_JsonParser_gives(string json)
    {
        var expected = Parser.Parse<Thing>(json);

        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false).TryEncode(JsonNode.Parse(json), TestDescriptors.Thing, out var bytes, out var error);

        Assert.True(ok, error?.ToString());
        Assert.Equal(expected, Thing.Parser.ParseFrom(bytes));
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Decoding_a_message_gives_the_json_that_Googles_JsonFormatter_gives(string json)
    {
        var message = Parser.Parse<Thing>(json);
        var reference = JsonNode.Parse(Formatter.Format(message))!.AsObject();

        var ours = JsonNode.Parse(Decode(message.ToByteString()))!.AsObject();

        Assert.True(JsonNode.DeepEquals(reference, ours), $"reference: {reference.ToJsonString()}\nours:      {ours.ToJsonString()}");
        Assert.Equal(reference.Select(p => p.Key), ours.Select(p => p.Key));
    }

    [Fact]
    public void Round_trip_through_json_is_lossless_for_a_message_with_every_field_set()
    {
        var message = new Thing();
        foreach (var document in Documents)
        {
            message.MergeFrom(Parser.Parse<Thing>(document));
        }

        var decoded = Decode(message.ToByteString());
        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false).TryEncode(JsonNode.Parse(decoded), TestDescriptors.Thing, out var bytes, out var error);

        Assert.True(ok, error?.ToString());
        Assert.Equal(message, Thing.Parser.ParseFrom(bytes));
    }

    [Theory]
    [InlineData("-_8", new byte[] { 0xfb, 0xff })]
    [InlineData("+/8=", new byte[] { 0xfb, 0xff })]
    [InlineData("+/8", new byte[] { 0xfb, 0xff })]
    public void Bytes_accept_standard_and_url_safe_base64_with_or_without_padding(string text, byte[] expected)
    {
        new JsonToProto(TestDescriptors.Set.Schema, false).TryEncode(new JsonObject { ["blob"] = text }, TestDescriptors.Thing, out var bytes, out var error);

        Assert.Null(error);
        Assert.Equal(expected, Thing.Parser.ParseFrom(bytes).Blob.ToByteArray());
    }

    [Fact]
    public void Packed_and_unpacked_repeated_scalars_decode_alike()
    {
        var message = new Thing { Numbers = { 1, -2, 300 }, Ratios = { 0.5 } };
        var packed = message.ToByteString();
        using var stream = new MemoryStream();
        var unpacked = new CodedOutputStream(stream);
        foreach (var n in message.Numbers)
        {
            unpacked.WriteTag(11, WireFormat.WireType.Varint);
            unpacked.WriteInt64(n);
        }

        unpacked.WriteTag(41, WireFormat.WireType.Fixed64);
        unpacked.WriteDouble(0.5);
        unpacked.Flush();

        Assert.Equal(Decode(packed), Decode(ByteString.CopyFrom(stream.ToArray())));
        Assert.Equal("""{"numbers":["1","-2","300"],"ratios":[0.5]}""", Decode(packed));
    }

    [Fact]
    public void Unknown_fields_and_enum_numbers_off_the_wire_are_tolerated()
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(999, WireFormat.WireType.LengthDelimited);
        output.WriteString("from a newer schema");
        output.WriteTag(9, WireFormat.WireType.Varint);
        output.WriteEnum(42);
        output.Flush();

        Assert.Equal("""{"color":42}""", Decode(ByteString.CopyFrom(stream.ToArray())));
    }

    [Theory]
    [InlineData("""{"count":"abc"}""", "count", "not an integer")]
    [InlineData("""{"count":1.5}""", "count", "not an integer")]
    [InlineData("""{"count":3000000000}""", "count", "out of range for int32")]
    [InlineData("""{"ubig":-1}""", "ubig", "out of range for uint64")]
    [InlineData("""{"big":"9223372036854775808"}""", "big", "out of range for int64")]
    [InlineData("""{"small":1e39}""", "small", "out of range for float")]
    [InlineData("""{"ratio":"fast"}""", "ratio", "not a number")]
    [InlineData("""{"color":"PURPLE"}""", "color", "not a value of enum transcoding.v1.Color")]
    [InlineData("""{"flag":"yes"}""", "flag", "expected true or false")]
    [InlineData("""{"name":5}""", "name", "expected a string")]
    [InlineData("""{"home":{"zip":"x"}}""", "home.zip", "not an integer")]
    [InlineData("""{"home":[]}""", "home", "expected a JSON object")]
    [InlineData("""{"others":[{},{"zip":true}]}""", "others[1].zip", "expected an int32")]
    [InlineData("""{"tags":[null]}""", "tags[0]", "null is not allowed")]
    [InlineData("""{"nope":1}""", "nope", "unknown field")]
    [InlineData("""{"home":{"street":"x"}}""", "home.street", "unknown field")]
    [InlineData("""{"text":"a","number":1}""", "number", "oneof 'choice'")]
    [InlineData("""{"name":"a","name_x":1}""", "name_x", "unknown field")]
    [InlineData("""{"created":"yesterday"}""", "created", "RFC 3339")]
    [InlineData("""{"created":"2024-13-01T00:00:00Z"}""", "created", "RFC 3339")]
    [InlineData("""{"created":"2024-01-01T00:00:00.1234567891Z"}""", "created", "RFC 3339")]
    [InlineData("""{"ttl":"1m"}""", "ttl", "duration")]
    [InlineData("""{"ttl":"315576000001s"}""", "ttl", "duration")]
    [InlineData("""{"blob":"!!"}""", "blob", "base64")]
    [InlineData("""{"tags":"a"}""", "tags", "expected a JSON array")]
    [InlineData("""{"scores":{"a":"x"}}""", "scores.a", "not an integer")]
    [InlineData("""{"byZip":{"ten":{}}}""", "byZip.ten", "not an integer")]
    [InlineData("""{"byFlag":{"yes":"y"}}""", "byFlag.yes", "not true or false")]
    [InlineData("""{"mask":"home.street_name"}""", "mask", "lowerCamelCase")]
    [InlineData("""{"maybeCount":"x"}""", "maybeCount", "not an integer")]
    [InlineData("""{"payload":{"@type":"type.googleapis.com/nope.Missing"}}""", "payload.@type", "not in the descriptor set")]
    public void Invalid_values_are_rejected_naming_the_field(string json, string field, string reason)
    {
        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false).TryEncode(JsonNode.Parse(json), TestDescriptors.Thing, out _, out var error);

        Assert.False(ok);
        Assert.Equal(field, error!.Field);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        // The reference parser rejects the same documents.
        Assert.ThrowsAny<Exception>(() => Parser.Parse<Thing>(json));
    }

    [Fact]
    public void A_field_given_under_both_names_is_rejected_where_Googles_parser_takes_the_last()
    {
        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false)
            .TryEncode(JsonNode.Parse("""{"renamed":"a","customName":"b"}"""), TestDescriptors.Thing, out _, out var error);

        Assert.False(ok);
        Assert.Equal("customName", error!.Field);
        Assert.Contains("given twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_mask_path_with_capitals_in_a_row_reads_back_as_JsonFormatter_wrote_it()
    {
        var message = new Thing { Mask = new Google.Protobuf.WellKnownTypes.FieldMask { Paths = { "p_y_x.a_b" } } };
        var json = Formatter.Format(message);

        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false).TryEncode(JsonNode.Parse(json), TestDescriptors.Thing, out var bytes, out var error);

        Assert.True(ok, error?.ToString());
        Assert.Equal("""{ "mask": "pYX.aB" }""", json);
        Assert.Equal(message, Thing.Parser.ParseFrom(bytes));
        // Google's C# parser puts no underscore between two capitals (C++'s FieldMaskUtil does): we differ on purpose.
        Assert.Equal("p_yx.a_b", Parser.Parse<Thing>(json).Mask.Paths.Single());
    }

    [Fact]
    public void Ignore_unknown_fields_skips_unknown_names_and_enum_values()
    {
        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: true)
            .TryEncode(JsonNode.Parse("""{"nope":1,"color":"PURPLE","name":"x","home":{"street":"y"}}"""), TestDescriptors.Thing, out var bytes, out var error);

        Assert.True(ok, error?.ToString());
        Assert.Equal(new Thing { Name = "x", Home = new Address() }, Thing.Parser.ParseFrom(bytes));
    }

    [Fact]
    public void A_truncated_message_is_reported_not_thrown()
    {
        var bytes = new Thing { Name = "abcdef" }.ToByteArray()[..4];

        var buffer = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(buffer);
        var ok = new ProtoToJson(TestDescriptors.Set.Schema).TryWrite(writer, TestDescriptors.Thing, ByteString.CopyFrom(bytes), null, out var error);

        Assert.False(ok);
        Assert.NotNull(error);
    }

    internal static string Decode(ByteString bytes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Assert.True(new ProtoToJson(TestDescriptors.Set.Schema).TryWrite(writer, TestDescriptors.Thing, bytes, null, out var error), error);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
