using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// A compiled ARM template (the output of <c>bicep build</c>) with its nested module deployments
/// flattened, so a test can find every resource by type wherever Bicep put it.
/// </summary>
internal sealed partial class ArmTemplate
{
    public ArmTemplate(string json)
    {
        Json = json;
        Root = JsonNode.Parse(json)?.AsObject() ?? throw new ArgumentException("Not a JSON object.", nameof(json));
        var resources = new List<TemplateResource>();
        Collect(Root, "main", resources);
        Resources = resources;
    }

    public string Json { get; }

    public JsonObject Root { get; }

    public IReadOnlyList<TemplateResource> Resources { get; }

    public IReadOnlyList<TemplateResource> OfType(string type) =>
        Resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase)).ToArray();

    public TemplateResource Single(string type)
    {
        var matches = OfType(type);
        Assert.True(matches.Count == 1, $"Expected exactly one {type}, found {matches.Count}.");
        return matches[0];
    }

    /// <summary>Every nested template, main included: where parameters, variables and outputs live.</summary>
    public IEnumerable<JsonObject> Templates()
    {
        yield return Root;
        foreach (var deployment in OfType("Microsoft.Resources/deployments"))
        {
            if (deployment.Node["properties"]?["template"] is JsonObject template)
            {
                yield return template;
            }
        }
    }

    private static void Collect(JsonObject template, string deploymentName, List<TemplateResource> into)
    {
        // Bicep emits an array of resources, or an object keyed by symbolic name (languageVersion 2.0).
        IEnumerable<JsonNode?> resources = template["resources"] switch
        {
            JsonArray array => array,
            JsonObject map => map.Select(p => p.Value),
            _ => [],
        };
        foreach (var resource in resources.OfType<JsonObject>())
        {
            into.Add(new TemplateResource(resource, template, deploymentName));
            if (resource["properties"]?["template"] is JsonObject nested)
            {
                Collect(nested, resource["name"]?.GetValue<string>() ?? "?", into);
            }
        }
    }

    [GeneratedRegex(@"^\[variables\('(?<name>[^']+)'\)\]$")]
    internal static partial Regex VariableReference();

    [GeneratedRegex(@"variables\('(?<name>[^']+)'\)")]
    internal static partial Regex VariableUse();

    [GeneratedRegex(@"createObject\('name', '(?<name>(?:[^']|'')*)', 'value', ")]
    internal static partial Regex NameValueObject();
}

/// <summary>A resource as compiled, with the template it sits in (its variables and parameters).</summary>
internal sealed record TemplateResource(JsonObject Node, JsonObject Template, string Deployment)
{
    public string Type => Node["type"]!.GetValue<string>();

    /// <summary>
    /// The node at a property path, with a value that is exactly <c>[variables('x')]</c> replaced by
    /// that variable's compiled value. Bicep moves literal objects into variables; this reads through.
    /// </summary>
    public JsonNode? Get(params string[] path)
    {
        JsonNode? node = Node;
        foreach (var segment in path)
        {
            node = Resolve(node);
            node = node switch
            {
                JsonObject obj => obj[segment],
                JsonArray array when int.TryParse(segment, out var index) => array[index],
                _ => null,
            };
        }

        return Resolve(node);
    }

    public string? GetString(params string[] path) => Get(path) is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    /// <summary>
    /// siteConfig.appSettings as name -> value, each value as it would compile in a literal list (a
    /// literal as itself, anything else as <c>[expression]</c>). When the list is an expression (some
    /// settings are conditional), every <c>createObject('name', ..., 'value', ...)</c> in it and in the
    /// variables it uses counts: the settings the template can produce, conditional or not.
    /// </summary>
    public Dictionary<string, string?> AppSettings()
    {
        var node = Get("properties", "siteConfig", "appSettings");
        if (node is JsonArray)
        {
            return Node.AppSettings();
        }

        var expression = node.Str() ?? throw new InvalidOperationException("The site has no siteConfig.appSettings.");
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal);
        Collect(expression, settings, []);
        return settings;
    }

    private void Collect(string expression, Dictionary<string, string?> into, HashSet<string> seenVariables)
    {
        foreach (Match match in ArmTemplate.NameValueObject().Matches(expression))
        {
            var value = Argument(expression, match.Index + match.Length);
            var literal = value.StartsWith('\'') && ClosesAt(value, 0) == value.Length - 1;
            into.Add(match.Groups["name"].Value.Replace("''", "'", StringComparison.Ordinal), literal ? value[1..^1].Replace("''", "'", StringComparison.Ordinal) : $"[{value}]");
        }

        foreach (Match use in ArmTemplate.VariableUse().Matches(expression))
        {
            var name = use.Groups["name"].Value;
            if (seenVariables.Add(name) && Template["variables"]?[name].Str() is { } variable)
            {
                Collect(variable, into, seenVariables);
            }
        }
    }

    /// <summary>The function argument starting at <paramref name="start"/>: up to the comma or parenthesis that ends it.</summary>
    private static string Argument(string expression, int start)
    {
        var depth = 0;
        for (var i = start; i < expression.Length; i++)
        {
            switch (expression[i])
            {
                case '\'':
                    i = ClosesAt(expression, i);
                    break;
                case '(':
                    depth++;
                    break;
                case ')' when depth == 0:
                case ',' when depth == 0:
                    return expression[start..i].Trim();
                case ')':
                    depth--;
                    break;
            }
        }

        throw new FormatException($"Unbalanced expression: {expression}");
    }

    /// <summary>Index of the quote that closes the string literal opening at <paramref name="open"/> ('' is an escaped quote).</summary>
    private static int ClosesAt(string expression, int open)
    {
        for (var i = open + 1; i < expression.Length; i++)
        {
            if (expression[i] == '\'')
            {
                if (i + 1 < expression.Length && expression[i + 1] == '\'')
                {
                    i++;
                    continue;
                }

                return i;
            }
        }

        throw new FormatException($"Unterminated string literal: {expression}");
    }

    public JsonNode? Resolve(JsonNode? node)
    {
        if (node is JsonValue value && value.TryGetValue<string>(out var text))
        {
            var match = ArmTemplate.VariableReference().Match(text);
            if (match.Success)
            {
                return Resolve(Template["variables"]?[match.Groups["name"].Value]);
            }
        }

        return node;
    }
}
