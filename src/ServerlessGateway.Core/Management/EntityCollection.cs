using System.Text.Json.Nodes;

namespace ServerlessGateway.Management;

/// <summary>
/// One addressable list of entities inside the flat config tree (see KongDeclarativeExporter.ToTree):
/// a top-level array, optionally filtered by a parent reference (a service's routes, a consumer's
/// plugins), or an array nested in a parent entity (an upstream's targets, a consumer's credentials).
/// </summary>
internal sealed class EntityCollection
{
    public required string Kind { get; init; }
    public required JsonArray Array { get; init; }
    /// <summary>The array's path in the tree, for mapping validation errors ("routes", "consumers[2].acls").</summary>
    public required string ArrayPath { get; init; }
    /// <summary>Fields that address an entity in a URL, in order (id first).</summary>
    public required string[] AddressFields { get; init; }
    /// <summary>For a parent-filtered view: the reference field and the parent's key.</summary>
    public (string Field, string Key)? Parent { get; init; }
    /// <summary>Added to every entity of a nested list in responses (Kong shows the parent as {"id": ...}).</summary>
    public (string Field, string Id)? ParentLink { get; init; }

    public IEnumerable<JsonObject> Items => Array.OfType<JsonObject>().Where(BelongsHere);

    private bool BelongsHere(JsonObject item) =>
        Parent is not { } parent || Text(item, parent.Field) == parent.Key;

    public JsonObject? Find(string address)
    {
        foreach (var field in AddressFields)
        {
            foreach (var item in Items)
            {
                if (Text(item, field) is { } value && string.Equals(value, address, field == "id" ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
                {
                    return item;
                }
            }
        }

        return null;
    }

    public string PathOf(JsonObject item) => $"{ArrayPath}[{Array.IndexOf(item)}]";

    public void Add(JsonObject item)
    {
        if (Parent is { } parent)
        {
            item[parent.Field] = parent.Key;
        }

        Array.Add(item);
    }

    public static string? Text(JsonObject item, string field) =>
        item.TryGetPropertyValue(field, out var value) && value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
