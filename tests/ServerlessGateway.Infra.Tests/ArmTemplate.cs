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
