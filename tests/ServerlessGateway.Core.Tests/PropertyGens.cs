using System.Text.Json.Nodes;
using CsCheck;

namespace ServerlessGateway.Tests;

/// <summary>
/// Generators shared by the property tests (<c>*Properties.cs</c>). CsCheck prints the seed of a failing sample
/// (after shrinking it); replay it by passing <c>seed: "..."</c> to the <c>Sample</c> call.
/// </summary>
internal static class PropertyGens
{
    /// <summary>Any Unicode scalar value (no lone surrogates: they have no UTF-8 form), biased to ASCII.</summary>
    public static readonly Gen<string> Text = Gen.Frequency(
            (3, Gen.Char['a', 'z'].Select(c => c.ToString())),
            (1, Gen.OneOf("\"", "\\", "/", "\u0000", "\u001f", "\u007f", "\u2028", "<", "&", "'")),
            (2, Gen.Int[0, 0x10FFFF].Where(cp => cp is < 0xD800 or > 0xDFFF).Select(char.ConvertFromUtf32)))
        .Array[0, 8]
        .Select(string.Concat);

    /// <summary>Any UTF-16 code units, lone surrogates and controls included.</summary>
    public static readonly Gen<string> AnyChars = Gen.Char.Array[0, 40].Select(chars => new string(chars));

    /// <summary>Strings of <paramref name="alphabet"/>'s characters.</summary>
    public static Gen<string> StringOf(string alphabet, int min, int max) =>
        Gen.Int[0, alphabet.Length - 1].Select(i => alphabet[i]).Array[min, max].Select(chars => new string(chars));

    /// <summary>Path segments in canonical form: unreserved, sub-delims, ':' '@', escapes of reserved and non-ASCII bytes.</summary>
    public static readonly Gen<string> CanonicalSegment = Gen.Frequency(
        (6, StringOf("abcxyzAZ09-._~", 1, 6).Where(s => s is not "." and not "..")),
        (1, Gen.OneOf("api", "users", "v1", "a;b=c", "x:y", "@", "!$&'()*+,=", "%20", "%3F", "%C3%A9", "%25", "%252E", "..foo", ".hidden")));

    /// <summary>Request paths in canonical form (<see cref="ServerlessGateway.Routing.PathCanonicalizer"/>), with or without a trailing slash.</summary>
    public static readonly Gen<string> CanonicalPaths = Gen.Select(CanonicalSegment.Array[0, 5], Gen.Bool)
        .Select((segments, slash) => "/" + string.Join('/', segments) + (slash && segments.Length > 0 ? "/" : ""));

    /// <summary>
    /// <paramref name="json"/> with an escaped lone surrogate (<c>\ud800</c>, which no JsonNode can hold) at the start
    /// of its first string value: valid JSON syntax, but not text.
    /// </summary>
    public static string WithLoneSurrogate(string json)
    {
        var at = json.IndexOf(":\"", StringComparison.Ordinal);
        return at < 0 ? json : json[..(at + 2)] + "\\ud800" + json[(at + 2)..];
    }

    /// <summary>
    /// JSON values down to <paramref name="depth"/> levels of arrays and objects whose member names come from
    /// <paramref name="keys"/>; scalars include the awkward ones (huge and fractional numbers, empty strings,
    /// control characters).
    /// </summary>
    public static Gen<JsonNode?> Json(Gen<string> keys, int depth)
    {
        var scalars = Gen.Frequency(
            (1, Gen.Const((JsonNode?)null)),
            (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
            (2, Gen.Long.Select(n => (JsonNode?)JsonValue.Create(n))),
            (1, Gen.Double.Where(double.IsFinite).Select(d => (JsonNode?)JsonValue.Create(d))),
            (1, Gen.OneOf("0", "-1", "1e400", "0.5", "18446744073709551616", "-0", "1E2").Select(n => JsonNode.Parse(n))),
            (3, Text.Select(s => (JsonNode?)JsonValue.Create(s))));
        if (depth == 0)
        {
            return scalars;
        }

        var inner = Json(keys, depth - 1);
        return Gen.Frequency(
            (3, scalars),
            (1, inner.Array[0, 4].Select(items => (JsonNode?)new JsonArray([.. items]))),
            (1, Gen.Select(keys, inner).Array[0, 4].Select(members =>
            {
                var obj = new JsonObject();
                foreach (var (key, value) in members)
                {
                    obj[key] = value;
                }

                return (JsonNode?)obj;
            })));
    }
}

/// <summary>One edit of a JSON tree: at the node numbered <see cref="Position"/> (modulo the node count), do <see cref="Action"/>.</summary>
internal readonly record struct JsonMutation(int Position, JsonMutationAction Action, JsonNode? Value)
{
    /// <summary>Mutations whose replacement values come from <paramref name="values"/>.</summary>
    public static Gen<JsonMutation[]> Gen(Gen<JsonNode?> values, int max) =>
        CsCheck.Gen.Select(CsCheck.Gen.Int[0, 1 << 20], CsCheck.Gen.Enum<JsonMutationAction>(), values, (p, a, v) => new JsonMutation(p, a, v))
            .Array[1, max];

    /// <summary>A mutated copy of <paramref name="seed"/>.</summary>
    public static JsonNode Apply(JsonNode seed, IEnumerable<JsonMutation> mutations)
    {
        var root = seed.DeepClone();
        foreach (var mutation in mutations)
        {
            var nodes = new List<(JsonNode Parent, string? Key, int Index)>();
            Collect(root, nodes);
            if (nodes.Count == 0)
            {
                break;
            }

            var (parent, key, index) = nodes[mutation.Position % nodes.Count];
            var current = key is null ? parent[index] : parent[key];
            var other = nodes[(mutation.Position / nodes.Count) % nodes.Count];
            JsonNode? replacement = mutation.Action switch
            {
                JsonMutationAction.Replace => mutation.Value?.DeepClone(),
                JsonMutationAction.CopyOtherNode => (other.Key is null ? other.Parent[other.Index] : other.Parent[other.Key])?.DeepClone(),
                JsonMutationAction.WrapInArray => new JsonArray(current?.DeepClone()),
                JsonMutationAction.ToString => JsonValue.Create(current?.ToJsonString() ?? "null"),
                _ => null,
            };
            switch (mutation.Action, parent)
            {
                case (JsonMutationAction.Delete, JsonObject obj):
                    obj.Remove(key!);
                    break;
                case (JsonMutationAction.Delete, JsonArray array):
                    array.RemoveAt(index);
                    break;
                case (JsonMutationAction.Duplicate, JsonArray array):
                    array.Insert(index, current?.DeepClone());
                    break;
                case (JsonMutationAction.Duplicate, JsonObject obj):
                    obj[key + "_"] = current?.DeepClone();
                    break;
                case (_, JsonObject obj):
                    obj[key!] = replacement;
                    break;
                case (_, JsonArray array):
                    array[index] = replacement;
                    break;
            }
        }

        return root;
    }

    private static void Collect(JsonNode? node, List<(JsonNode, string?, int)> nodes)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj.ToList())
                {
                    nodes.Add((obj, key, 0));
                    Collect(child, nodes);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    nodes.Add((array, null, i));
                    Collect(array[i], nodes);
                }

                break;
        }
    }
}

internal enum JsonMutationAction { Delete, Duplicate, Replace, CopyOtherNode, WrapInArray, ToString }
