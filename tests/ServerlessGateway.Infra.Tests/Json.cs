using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

internal static class Json
{
    public static string? Str(this JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    public static bool? Bool(this JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<bool>(out var b) ? b : null;

    public static int? Int(this JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<int>(out var i) ? i : null;

    public static string[] Strings(this JsonNode? node) =>
        node is JsonArray array ? array.Select(n => n.Str() ?? n?.ToJsonString() ?? "null").ToArray() : [];

    /// <summary>Every (property name, value) pair anywhere below the node, depth first.</summary>
    public static IEnumerable<(string Name, JsonNode? Value, JsonObject Parent)> Properties(this JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    yield return (name, value, obj);
                    foreach (var inner in value.Properties())
                    {
                        yield return inner;
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    foreach (var inner in item.Properties())
                    {
                        yield return inner;
                    }
                }

                break;
        }
    }

    /// <summary>siteConfig.appSettings as name -> value.</summary>
    public static Dictionary<string, string?> AppSettings(this JsonNode? site)
    {
        var settings = site?["properties"]?["siteConfig"]?["appSettings"] as JsonArray
            ?? throw new InvalidOperationException("The site has no literal siteConfig.appSettings array.");
        return settings.OfType<JsonObject>().ToDictionary(s => s["name"].Str()!, s => s["value"].Str(), StringComparer.Ordinal);
    }
}
