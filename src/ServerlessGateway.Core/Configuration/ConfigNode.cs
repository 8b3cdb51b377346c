using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ServerlessGateway.Configuration;

internal enum ConfigNodeKind { Null, Scalar, Map, List }

/// <summary>
/// One tree for both YAML and JSON input, keeping what typed reading needs: whether a scalar was
/// quoted (a quoted "80" is a string, as in Kong's YAML loader) and the order of map keys.
/// </summary>
internal sealed class ConfigNode
{
    private ConfigNode(ConfigNodeKind kind) => Kind = kind;

    public ConfigNodeKind Kind { get; }
    public string Text { get; private init; } = "";
    public bool Quoted { get; private init; }
    public IReadOnlyList<KeyValuePair<string, ConfigNode>> Entries { get; private init; } = [];
    public IReadOnlyList<ConfigNode> Items { get; private init; } = [];

    public static readonly ConfigNode Null = new(ConfigNodeKind.Null);

    public string Describe() => Kind switch
    {
        ConfigNodeKind.Null => "null",
        ConfigNodeKind.Map => "an object",
        ConfigNodeKind.List => "an array",
        _ => Quoted ? "a string" : "a scalar",
    };

    /// <summary>Parses YAML (JSON is sniffed by its leading brace and read with System.Text.Json).</summary>
    public static ConfigNode Parse(string text)
    {
        var trimmed = text.AsSpan().TrimStart();
        if (trimmed.Length > 0 && trimmed[0] == '{')
        {
            var options = new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 64 };
            try
            {
                using var document = JsonDocument.Parse(text, options);
                return FromJson(document.RootElement);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // A lone surrogate in the text (ArgumentException) or escaped in a string ("\ud800", thrown when read).
                throw new ConfigFormatException($"malformed JSON: {e.Message}");
            }
        }

        var stream = new YamlStream();
        using (var reader = new StringReader(text))
        {
            try
            {
                stream.Load(reader);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // YamlDotNet reports some malformed documents ("... <<: *a&a", "&a '!!map x|") so, not as a YamlException.
                throw new ConfigFormatException($"malformed YAML: {e.Message}");
            }
        }

        if (stream.Documents.Count == 0)
        {
            return Null;
        }

        if (stream.Documents.Count > 1)
        {
            throw new ConfigFormatException("the file holds more than one YAML document");
        }

        // Aliases are expanded into copies: without a budget, nested anchors ("billion laughs") would expand a
        // few hundred bytes into billions of nodes. No plain document has more nodes than half its characters.
        var budget = Math.Max(MinNodeBudget, text.Length / 2);
        return FromYaml(stream.Documents[0].RootNode, depth: 0, ref budget);
    }

    private const int MinNodeBudget = 1_000_000;

    private static ConfigNode FromYaml(YamlNode node, int depth, ref int budget)
    {
        if (depth > 64)
        {
            throw new ConfigFormatException("the document nests deeper than 64 levels");
        }

        if (--budget < 0)
        {
            throw new ConfigFormatException("the document expands to too many nodes (YAML aliases): refused");
        }

        switch (node)
        {
            case YamlScalarNode scalar:
                var quoted = scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
                    or ScalarStyle.Literal or ScalarStyle.Folded;
                var value = scalar.Value ?? "";
                if (!quoted && value is "" or "~" or "null" or "Null" or "NULL")
                {
                    return Null;
                }

                return new ConfigNode(ConfigNodeKind.Scalar) { Text = value, Quoted = quoted };
            case YamlSequenceNode sequence:
                var items = new ConfigNode[sequence.Children.Count];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = FromYaml(sequence.Children[i], depth + 1, ref budget);
                }

                return new ConfigNode(ConfigNodeKind.List) { Items = items };
            case YamlMappingNode mapping:
                var entries = new List<KeyValuePair<string, ConfigNode>>(mapping.Children.Count);
                foreach (var (key, child) in mapping.Children)
                {
                    if (key is not YamlScalarNode { Value: { } keyText })
                    {
                        throw new ConfigFormatException($"line {key.Start.Line}: map keys must be plain strings");
                    }

                    entries.Add(new(keyText, FromYaml(child, depth + 1, ref budget)));
                }

                return new ConfigNode(ConfigNodeKind.Map) { Entries = entries };
            default:
                throw new ConfigFormatException($"line {node.Start.Line}: unsupported YAML node");
        }
    }

    /// <summary>A JSON tree (a plugin's config) as a node, so plugins read it with <see cref="MapReader"/>.</summary>
    public static ConfigNode FromJsonNode(JsonNode? node) =>
        node is null ? Null : FromJson(JsonSerializer.SerializeToElement(node));

    private static ConfigNode FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => new ConfigNode(ConfigNodeKind.Map)
        {
            Entries = element.EnumerateObject().Select(p => new KeyValuePair<string, ConfigNode>(p.Name, FromJson(p.Value))).ToArray(),
        },
        JsonValueKind.Array => new ConfigNode(ConfigNodeKind.List)
        {
            Items = element.EnumerateArray().Select(FromJson).ToArray(),
        },
        JsonValueKind.String => new ConfigNode(ConfigNodeKind.Scalar) { Text = element.GetString()!, Quoted = true },
        JsonValueKind.Null or JsonValueKind.Undefined => Null,
        _ => new ConfigNode(ConfigNodeKind.Scalar) { Text = element.GetRawText() },
    };

    public bool TryGetInt(out long value)
    {
        value = 0;
        return Kind == ConfigNodeKind.Scalar && !Quoted
            && long.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    public bool TryGetBool(out bool value)
    {
        value = false;
        if (Kind != ConfigNodeKind.Scalar || Quoted)
        {
            return false;
        }

        switch (Text)
        {
            case "true" or "True" or "TRUE":
                value = true;
                return true;
            case "false" or "False" or "FALSE":
                return true;
            default:
                return false;
        }
    }

    /// <summary>The node as JSON (plugin configs travel as JSON objects).</summary>
    public JsonNode? ToJson()
    {
        switch (Kind)
        {
            case ConfigNodeKind.Null:
                return null;
            case ConfigNodeKind.Map:
                var obj = new JsonObject();
                foreach (var (key, child) in Entries)
                {
                    obj[key] = child.ToJson();
                }

                return obj;
            case ConfigNodeKind.List:
                var array = new JsonArray();
                foreach (var item in Items)
                {
                    array.Add(item.ToJson());
                }

                return array;
            default:
                if (Quoted)
                {
                    return JsonValue.Create(Text);
                }

                if (TryGetBool(out var b))
                {
                    return JsonValue.Create(b);
                }

                if (TryGetInt(out var l))
                {
                    return JsonValue.Create(l);
                }

                if (double.TryParse(Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
                {
                    return JsonValue.Create(d);
                }

                return JsonValue.Create(Text);
        }
    }
}

/// <summary>The text is not well-formed YAML/JSON of the shape a declarative file has.</summary>
internal sealed class ConfigFormatException(string message) : Exception(message);
