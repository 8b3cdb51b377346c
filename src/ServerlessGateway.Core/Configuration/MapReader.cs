using System.Text.Json.Nodes;

namespace ServerlessGateway.Configuration;

/// <summary>
/// Typed reading of one config object with error collection: every read records its key, every
/// problem goes to the shared issue list with its path, and <see cref="Finish"/> applies the import
/// rule to what is left (Kong fields we do not implement pass only at Kong's default value; any
/// other name is unknown). Nothing is silently dropped.
/// </summary>
internal sealed class MapReader
{
    private readonly ConfigNode _node;
    private readonly List<ConfigIssue> _errors;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public MapReader(ConfigNode node, string path, List<ConfigIssue> errors)
    {
        _node = node;
        Path = path;
        _errors = errors;
    }

    public string Path { get; }

    public static MapReader? Open(ConfigNode node, string path, List<ConfigIssue> errors)
    {
        if (node.Kind != ConfigNodeKind.Map)
        {
            errors.Add(new(path, $"expected an object, got {node.Describe()}"));
            return null;
        }

        return new MapReader(node, path, errors);
    }

    /// <summary>Every field as written, read or not.</summary>
    public IReadOnlyList<KeyValuePair<string, ConfigNode>> Entries => _node.Entries;

    public string At(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public void Error(string key, string message) => _errors.Add(new(At(key), message));

    public bool Has(string key) => Find(key) is { Kind: not ConfigNodeKind.Null };

    public ConfigNode? Get(string key)
    {
        _read.Add(key);
        return Find(key);
    }

    private ConfigNode? Find(string key)
    {
        foreach (var (k, v) in _node.Entries)
        {
            if (k == key)
            {
                return v;
            }
        }

        return null;
    }

    public string? String(string key, bool required = false)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            if (required)
            {
                Error(key, "required field missing");
            }

            return null;
        }

        if (node.Kind != ConfigNodeKind.Scalar)
        {
            Error(key, $"expected a string, got {node.Describe()}");
            return null;
        }

        if (required && node.Text.Length == 0)
        {
            Error(key, "must not be empty");
            return null;
        }

        return node.Text;
    }

    public int Int(string key, int defaultValue, int min, int max)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return defaultValue;
        }

        if (!node.TryGetInt(out var value))
        {
            Error(key, $"expected an integer, got {node.Describe()}");
            return defaultValue;
        }

        if (value < min || value > max)
        {
            Error(key, $"value should be between {min} and {max}");
            return defaultValue;
        }

        return (int)value;
    }

    /// <summary>A number (Kong's <c>number</c> type: seconds and ratios may have fractions) in (or at) the bounds.</summary>
    public double Number(string key, double defaultValue, double min, double max, bool minExclusive = false)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return defaultValue;
        }

        if (node.Kind != ConfigNodeKind.Scalar || node.Quoted
            || !double.TryParse(node.Text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || !double.IsFinite(value))
        {
            Error(key, $"expected a number, got {node.Describe()}");
            return defaultValue;
        }

        if (value > max || (minExclusive ? value <= min : value < min))
        {
            Error(key, minExclusive ? $"value should be greater than {min} and at most {max}" : $"value should be between {min} and {max}");
            return defaultValue;
        }

        return value;
    }

    /// <summary>A list of integers in the bounds (HTTP statuses); the default when absent.</summary>
    public IReadOnlyList<int> IntList(string key, IReadOnlyList<int> defaultValue, int min, int max)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return defaultValue;
        }

        if (node.Kind != ConfigNodeKind.List)
        {
            Error(key, $"expected an array of integers, got {node.Describe()}");
            return defaultValue;
        }

        var result = new List<int>(node.Items.Count);
        for (var i = 0; i < node.Items.Count; i++)
        {
            if (!node.Items[i].TryGetInt(out var value) || value < min || value > max)
            {
                _errors.Add(new($"{At(key)}[{i}]", $"expected an integer between {min} and {max}"));
                continue;
            }

            result.Add((int)value);
        }

        return result;
    }

    public bool Bool(string key, bool defaultValue)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return defaultValue;
        }

        if (!node.TryGetBool(out var value))
        {
            Error(key, $"expected a boolean, got {node.Describe()}");
            return defaultValue;
        }

        return value;
    }

    public IReadOnlyList<string> StringList(string key)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return [];
        }

        if (node.Kind != ConfigNodeKind.List)
        {
            Error(key, $"expected an array of strings, got {node.Describe()}");
            return [];
        }

        var result = new List<string>(node.Items.Count);
        for (var i = 0; i < node.Items.Count; i++)
        {
            var item = node.Items[i];
            if (item.Kind != ConfigNodeKind.Scalar)
            {
                _errors.Add(new($"{At(key)}[{i}]", $"expected a string, got {item.Describe()}"));
                continue;
            }

            result.Add(item.Text);
        }

        return result;
    }

    /// <summary>Items of a list field, each with its path; empty when absent.</summary>
    public IEnumerable<(ConfigNode Node, string Path)> List(string key)
    {
        var node = Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            yield break;
        }

        if (node.Kind != ConfigNodeKind.List)
        {
            Error(key, $"expected an array, got {node.Describe()}");
            yield break;
        }

        for (var i = 0; i < node.Items.Count; i++)
        {
            yield return (node.Items[i], $"{At(key)}[{i}]");
        }
    }

    /// <summary>A field the model does not keep (Kong's read-only timestamps): accepted when well-typed.</summary>
    public void Ignore(string key) => _read.Add(key);

    /// <summary>
    /// A Kong field this gateway does not implement: accepted only while it holds Kong's default
    /// (given as JSON; for objects, every field written must hold its default).
    /// </summary>
    public void KongDefault(string key, string defaultJson, string? why = null)
    {
        var node = Get(key);
        if (node is null)
        {
            return;
        }

        var expected = JsonNode.Parse(defaultJson);
        if (!MatchesDefault(node.ToJson(), expected))
        {
            Error(key, $"not supported by this gateway: only Kong's default {defaultJson} is accepted" + (why is null ? "" : $" ({why})"));
        }
    }

    private static bool MatchesDefault(JsonNode? actual, JsonNode? expected)
    {
        if (actual is null || actual is JsonArray { Count: 0 } || actual is JsonObject { Count: 0 })
        {
            return expected is null || expected is JsonArray { Count: 0 } || expected is JsonObject;
        }

        switch (expected)
        {
            case JsonObject expectedObject when actual is JsonObject actualObject:
                foreach (var (k, v) in actualObject)
                {
                    if (!expectedObject.TryGetPropertyValue(k, out var d) || !MatchesDefault(v, d))
                    {
                        return false;
                    }
                }

                return true;
            case JsonArray expectedArray when actual is JsonArray actualArray:
                // Kong stores these as sets: order does not matter.
                var want = expectedArray.Select(n => n?.ToJsonString()).Order(StringComparer.Ordinal);
                var got = actualArray.Select(n => n?.ToJsonString()).Order(StringComparer.Ordinal);
                return want.SequenceEqual(got);
            default:
                return JsonNode.DeepEquals(actual, expected);
        }
    }

    /// <summary>Reports every key that was not read: unknown names are rejected by name.</summary>
    public void Finish(IReadOnlyDictionary<string, string>? unsupported = null)
    {
        foreach (var (key, value) in _node.Entries)
        {
            if (_read.Contains(key))
            {
                continue;
            }

            if (unsupported is not null && unsupported.TryGetValue(key, out var reason))
            {
                if (value.Kind == ConfigNodeKind.Null || value is { Kind: ConfigNodeKind.List, Items.Count: 0 })
                {
                    continue;
                }

                Error(key, $"not supported by this gateway: {reason}");
                continue;
            }

            Error(key, "unknown field");
        }
    }
}
