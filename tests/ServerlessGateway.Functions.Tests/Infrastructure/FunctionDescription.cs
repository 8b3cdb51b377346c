using System.Text.Json;

namespace ServerlessGateway.Functions.Tests.Infrastructure;

/// <summary>One function as functions.metadata (or the worker's generated metadata provider) describes it.</summary>
internal sealed record FunctionDescription(string Name, string EntryPoint, string ScriptFile, IReadOnlyList<BindingDescription> Bindings)
{
    public BindingDescription? HttpTrigger => Bindings.SingleOrDefault(b => string.Equals(b.Type, "httpTrigger", StringComparison.OrdinalIgnoreCase));

    public static FunctionDescription From(string name, string entryPoint, string scriptFile, IEnumerable<string> rawBindings) =>
        new(name, entryPoint, scriptFile, rawBindings.Select(BindingDescription.Parse).ToArray());
}

internal sealed record BindingDescription(string Name, string Type, string Direction, string? AuthLevel, string? Route, IReadOnlyList<string>? Methods)
{
    public static BindingDescription Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var b = document.RootElement;
        return new BindingDescription(
            b.GetProperty("name").GetString()!,
            b.GetProperty("type").GetString()!,
            b.GetProperty("direction").GetString()!,
            b.TryGetProperty("authLevel", out var auth) ? auth.GetString() : null,
            b.TryGetProperty("route", out var route) ? route.GetString() : null,
            b.TryGetProperty("methods", out var methods) && methods.ValueKind == JsonValueKind.Array
                ? methods.EnumerateArray().Select(m => m.GetString()!).ToArray()
                : null);
    }

    /// <summary>The route's segments; a trailing "{*name}" is a catch-all that also matches nothing.</summary>
    public string[] Segments => (Route ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);

    public bool IsCatchAll => Segments is [.., var last] && last.StartsWith("{*", StringComparison.Ordinal);

    /// <summary>Whether a request with this method reaches the function (no methods listed: every method).</summary>
    public bool Accepts(string method) => Methods is null || Methods.Contains(method, StringComparer.OrdinalIgnoreCase);
}
