using System.Text.Json.Nodes;
using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using ServerlessGateway.GrpcGateway;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.Tests.GrpcGateway;

/// <summary>
/// Property tests of the codec against Google.Protobuf's JsonFormatter/JsonParser on random <see cref="Thing"/>
/// messages: every field kind of the test proto, well-known types included. CsCheck prints the seed of a failing
/// sample (and shrinks it); replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed class ProtoJsonCodecProperties
{
    private const int Iterations = 500;

    private static readonly TypeRegistry Types = TypeRegistry.FromMessages(Address.Descriptor, Thing.Descriptor);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Types));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithTypeRegistry(Types));

    [Fact]
    public void Our_encoding_of_JsonFormatters_json_parses_to_the_original_message()
    {
        Things.Sample(
            original =>
            {
                var bytes = Encode(Formatter.Format(original));

                Assert.Equal(original, Thing.Parser.ParseFrom(bytes));
            },
            iter: Iterations,
            threads: 1,
            print: Print);
    }

    [Fact]
    public void Our_decoding_of_the_binary_gives_JsonFormatters_json_keys_in_the_same_order()
    {
        Things.Sample(
            original =>
            {
                var reference = JsonNode.Parse(Formatter.Format(original))!.AsObject();

                var ours = JsonNode.Parse(Decode(original.ToByteString()))!.AsObject();

                Assert.True(JsonNode.DeepEquals(reference, ours), $"reference: {reference.ToJsonString()}\nours:      {ours.ToJsonString()}");
                Assert.Equal(KeyOrder(reference), KeyOrder(ours));
            },
            iter: Iterations,
            threads: 1,
            print: Print);
    }

    [Fact]
    public void Binary_to_json_to_binary_through_our_codec_is_the_identity()
    {
        Things.Sample(
            original =>
            {
                var json = Decode(original.ToByteString());

                var bytes = Encode(json);

                Assert.Equal(original, Thing.Parser.ParseFrom(bytes));
                // And Google's parser reads our JSON back to the same message, but for a FieldMask path with two
                // capitals in a row: JsonFormatter writes p_y_x as "pYX", which JsonParser (C#) reads as p_yx, where
                // we, as protobuf's C++ FieldMaskUtil, put an underscore before every capital.
                var theirs = Parser.Parse<Thing>(json);
                if (original.Mask is { } mask && mask.Paths.Any(HasCapitalsInARow))
                {
                    theirs.Mask = mask;
                }

                Assert.Equal(original, theirs);
            },
            iter: Iterations,
            threads: 1,
            print: Print);
    }

    /// <summary>
    /// Malformed input never escapes as an exception: random JSON trees over the message's field names (and
    /// mutations of valid JSON) either encode or come back as a <see cref="TranscodeError"/>; random bytes (and
    /// mutations of a valid message) either decode or come back as an error from <see cref="ProtoToJson.TryWrite"/>.
    /// </summary>
    [Fact]
    public void Random_json_encodes_or_is_refused_with_an_error_never_an_exception()
    {
        var randomJson = PropertyGens.Json(FieldNames, depth: 3);
        var mutatedJson = Gen.Select(Things, JsonMutation.Gen(randomJson, 4))
            .Select((thing, mutations) => (JsonNode?)JsonMutation.Apply(JsonNode.Parse(Formatter.Format(thing))!, mutations));
        // Reparsed: the codec sees JSON read from a request body, whose numbers are kept as text.
        Gen.OneOf(mutatedJson, randomJson).Select(json => json is null ? null : JsonNode.Parse(json.ToJsonString())).Sample(
            json =>
            {
                var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false)
                    .TryEncode(json, TestDescriptors.Thing, out var bytes, out var error);

                Assert.Equal(ok, error is null);
                if (ok)
                {
                    // What we accept is a valid message.
                    Thing.Parser.ParseFrom(bytes);
                }
            },
            iter: Iterations,
            threads: 1,
            print: json => json?.ToJsonString() ?? "null");
    }

    [Fact]
    public void Random_bytes_decode_or_are_refused_with_an_error_never_an_exception()
    {
        var mutated = Gen.Select(Things, Gen.Int[0, 1 << 20], Gen.Byte, Gen.Int[0, 2])
            .Select((thing, at, value, how) =>
            {
                var bytes = thing.ToByteArray().ToList();
                var i = bytes.Count == 0 ? 0 : at % bytes.Count;
                switch (how)
                {
                    case 0 when bytes.Count > 0:
                        bytes[i] = value;
                        break;
                    case 1:
                        bytes.Insert(i, value);
                        break;
                    default:
                        bytes = bytes[..i];
                        break;
                }

                return bytes.ToArray();
            });
        Gen.OneOf(Gen.Byte.Array[0, 64], mutated).Sample(
            bytes =>
            {
                var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                using var writer = new System.Text.Json.Utf8JsonWriter(buffer);

                var ok = new ProtoToJson(TestDescriptors.Set.Schema).TryWrite(writer, TestDescriptors.Thing, ByteString.CopyFrom(bytes), null, out var error);

                Assert.Equal(ok, error is null);
                if (ok)
                {
                    writer.Flush();
                    JsonNode.Parse(buffer.WrittenSpan);
                }
            },
            iter: Iterations,
            threads: 1,
            print: bytes => Convert.ToHexString(bytes));
    }

    /// <summary>The field names of the test messages (proto and JSON spellings), a well-known type's, and a stranger.</summary>
    private static readonly Gen<string> FieldNames = Gen.OneOf(
        Thing.Descriptor.Fields.InDeclarationOrder().Concat(Address.Descriptor.Fields.InDeclarationOrder())
            .SelectMany(f => new[] { f.Name, f.JsonName })
            .Concat(["@type", "value", "seconds", "nope", ""])
            .Distinct()
            .Select(Gen.Const)
            .ToArray());

    private static string Print(Thing thing) => thing.ToString();

    /// <summary>A one-letter word followed by another word: <c>p_y_x</c> is <c>pYX</c> in JSON.</summary>
    private static bool HasCapitalsInARow(string path) =>
        path.Split('.').Any(segment => segment.Split('_').Skip(1).SkipLast(1).Any(word => word.Length == 1));

    /// <summary>Every object's keys in document order, nested objects included (DeepEquals ignores order).</summary>
    private static List<string> KeyOrder(JsonNode? node, string path = "", List<string>? keys = null)
    {
        keys ??= [];
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    keys.Add(path + "/" + key);
                    KeyOrder(value, path + "/" + key, keys);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    KeyOrder(array[i], path + "/" + i, keys);
                }

                break;
        }

        return keys;
    }

    private static ByteString Encode(string json)
    {
        var ok = new JsonToProto(TestDescriptors.Set.Schema, ignoreUnknownFields: false)
            .TryEncode(JsonNode.Parse(json), TestDescriptors.Thing, out var bytes, out var error);
        Assert.True(ok, $"{error} in {json}");
        return bytes;
    }

    private static string Decode(ByteString bytes) => ProtoJsonCodecTests.Decode(bytes);

    // ---- generators ----

    private static readonly Gen<string> Text = PropertyGens.Text;

    private static readonly Gen<double> Doubles = Gen.Frequency(
        (4, Gen.Double),
        (2, Gen.Int[-1000, 1000].Select(i => i / 8.0)),
        (1, Gen.OneOf(double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, double.MinValue, double.Epsilon, 1e21, 1e-7, 0.1)));

    private static readonly Gen<float> Floats = Gen.Frequency(
        (4, Gen.Float),
        (1, Gen.OneOf(float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, float.MinValue, float.Epsilon, 0.1f)));

    /// <summary>Finite: google.protobuf.Value has no JSON form for NaN or the infinities.</summary>
    private static readonly Gen<double> FiniteDoubles = Doubles.Where(double.IsFinite);

    private static readonly Gen<long> Longs = Gen.Frequency(
        (3, Gen.Long),
        (1, Gen.OneOf(long.MinValue, long.MaxValue, 9007199254740993L, -1L)));

    private static readonly Gen<ulong> ULongs = Gen.Frequency(
        (3, Gen.ULong),
        (1, Gen.OneOf(ulong.MaxValue, 9007199254740993UL)));

    private static readonly Gen<ByteString> Bytes = Gen.Byte.Array[0, 12].Select(ByteString.CopyFrom);

    /// <summary>The defined values and a number the schema does not know (JSON keeps it as a number).</summary>
    private static readonly Gen<Color> Colors = Gen.OneOf(Color.Unspecified, Color.Red, Color.Green, (Color)42, (Color)(-3));

    private static readonly Gen<Address> Addresses =
        Gen.Select(Text, Gen.Int, (street, zip) => new Address { StreetName = street, Zip = zip });

    private static readonly Gen<Timestamp> Timestamps = Gen.Select(
        Gen.Long[-62135596800L, 253402300799L],
        Gen.Frequency((1, Gen.Const(0)), (1, Gen.Int[0, 999].Select(n => n * 1_000_000)), (1, Gen.Int[0, 999_999_999])),
        (seconds, nanos) => new Timestamp { Seconds = seconds, Nanos = nanos });

    private static readonly Gen<Duration> Durations = Gen.Select(
        Gen.Long[-315576000000L, 315576000000L],
        Gen.Frequency((1, Gen.Const(0)), (1, Gen.Int[0, 999].Select(n => n * 1000)), (1, Gen.Int[0, 999_999_999])),
        (seconds, nanos) => new Duration { Seconds = seconds, Nanos = seconds < 0 ? -nanos : seconds == 0 && nanos % 2 == 1 ? -nanos : nanos });

    private static readonly Gen<string> SnakeName = Gen.Char['a', 'z'].Array[1, 4].Select(c => new string(c)).Array[1, 3].Select(parts => string.Join('_', parts));

    private static readonly Gen<FieldMask> Masks = SnakeName.Array[1, 3].Select(s => string.Join('.', s)).Array[0, 3]
        .Select(paths => new FieldMask { Paths = { paths } });

    private static Gen<Value> ValuesOfDepth(int depth)
    {
        var leaves = Gen.Frequency(
            (1, Gen.Const(0).Select(_ => Value.ForNull())),
            (1, Gen.Bool.Select(Value.ForBool)),
            (2, FiniteDoubles.Select(Value.ForNumber)),
            (2, Text.Select(Value.ForString)));
        if (depth == 0)
        {
            return leaves;
        }

        var inner = ValuesOfDepth(depth - 1);
        return Gen.Frequency(
            (4, leaves),
            (1, inner.Array[0, 3].Select(items => Value.ForList(items))),
            (1, StructsOf(inner).Select(Value.ForStruct)));
    }

    /// <summary>Keys not empty: Google.Protobuf refuses to format a Struct with an empty key.</summary>
    private static Gen<Struct> StructsOf(Gen<Value> values) =>
        Gen.Select(Text.Where(key => key.Length > 0), values).Array[0, 3].Select(entries =>
        {
            var result = new Struct();
            foreach (var (key, value) in entries)
            {
                result.Fields[key] = value;
            }

            return result;
        });

    private static readonly Gen<Value> Values = ValuesOfDepth(2);

    private static readonly Gen<Any> Anys = Gen.OneOf(
        Addresses.Select(Any.Pack),
        Durations.Select(Any.Pack),
        Timestamps.Select(Any.Pack),
        Values.Select(Any.Pack));

    /// <summary>One field set to a random value (setting a oneof member replaces the one set before: last wins).</summary>
    private static readonly Gen<Action<Thing>>[] Setters =
    [
        Text.Select<string, Action<Thing>>(v => t => t.Name = v),
        Longs.Select<long, Action<Thing>>(v => t => t.Big = v),
        ULongs.Select<ulong, Action<Thing>>(v => t => t.Ubig = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.Count = v),
        Doubles.Select<double, Action<Thing>>(v => t => t.Ratio = v),
        Floats.Select<float, Action<Thing>>(v => t => t.Small = v),
        Gen.Bool.Select<bool, Action<Thing>>(v => t => t.Flag = v),
        Bytes.Select<ByteString, Action<Thing>>(v => t => t.Blob = v),
        Colors.Select<Color, Action<Thing>>(v => t => t.Color = v),
        Text.Array[0, 4].Select<string[], Action<Thing>>(v => t => t.Tags.Add(v)),
        Longs.Array[0, 4].Select<long[], Action<Thing>>(v => t => t.Numbers.Add(v)),
        Gen.Select(Text, Gen.Int).Array[0, 4].Select<(string, int)[], Action<Thing>>(v => t =>
        {
            foreach (var (key, value) in v)
            {
                t.Scores[key] = value;
            }
        }),
        Gen.Select(Gen.Int, Addresses).Array[0, 3].Select<(int, Address)[], Action<Thing>>(v => t =>
        {
            foreach (var (key, value) in v)
            {
                t.ByZip[key] = value;
            }
        }),
        Addresses.Select<Address, Action<Thing>>(v => t => t.Home = v),
        Addresses.Array[0, 3].Select<Address[], Action<Thing>>(v => t => t.Others.Add(v)),
        Text.Select<string, Action<Thing>>(v => t => t.Text = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.Number = v),
        Addresses.Select<Address, Action<Thing>>(v => t => t.Place = v),
        Timestamps.Select<Timestamp, Action<Thing>>(v => t => t.Created = v),
        Durations.Select<Duration, Action<Thing>>(v => t => t.Ttl = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.MaybeCount = v),
        Text.Select<string, Action<Thing>>(v => t => t.MaybeText = v),
        Gen.Bool.Select<bool, Action<Thing>>(v => t => t.MaybeFlag = v),
        StructsOf(Values).Select<Struct, Action<Thing>>(v => t => t.Extra = v),
        Values.Select<Value, Action<Thing>>(v => t => t.AnyValue = v),
        Values.Array[0, 3].Select<Value[], Action<Thing>>(v => t => t.List = new ListValue { Values = { v } }),
        Masks.Select<FieldMask, Action<Thing>>(v => t => t.Mask = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.Opt = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.Zig = v),
        Longs.Select<long, Action<Thing>>(v => t => t.Zag = v),
        Gen.UInt.Select<uint, Action<Thing>>(v => t => t.F32 = v),
        ULongs.Select<ulong, Action<Thing>>(v => t => t.F64 = v),
        Gen.Int.Select<int, Action<Thing>>(v => t => t.Sf32 = v),
        Longs.Select<long, Action<Thing>>(v => t => t.Sf64 = v),
        Text.Select<string, Action<Thing>>(v => t => t.Renamed = v),
        Colors.Array[0, 4].Select<Color[], Action<Thing>>(v => t => t.Colors.Add(v)),
        Longs.Select<long, Action<Thing>>(v => t => t.MaybeBig = v),
        Doubles.Select<double, Action<Thing>>(v => t => t.MaybeRatio = v),
        Bytes.Select<ByteString, Action<Thing>>(v => t => t.MaybeBlob = v),
        Gen.Select(Gen.Bool, Text).Array[0, 2].Select<(bool, string)[], Action<Thing>>(v => t =>
        {
            foreach (var (key, value) in v)
            {
                t.ByFlag[key] = value;
            }
        }),
        Doubles.Array[0, 4].Select<double[], Action<Thing>>(v => t => t.Ratios.Add(v)),
        Anys.Select<Any, Action<Thing>>(v => t => t.Payload = v),
        Gen.Const<Action<Thing>>(t => t.Nothing = new Empty()),
    ];

    private static readonly Gen<Thing> Things = Gen.OneOf(Setters).Array[0, 16].Select(setters =>
    {
        var thing = new Thing();
        foreach (var set in setters)
        {
            set(thing);
        }

        return thing;
    });
}
