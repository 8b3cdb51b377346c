using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Management;

/// <summary>
/// Kong-shaped CRUD (DESIGN.md §5) for services, routes, upstreams/targets, consumers and their
/// credentials, and plugins. Every change edits the flat config tree, then goes through the same
/// parser and validator as a declarative import, so CRUD and import can never disagree.
/// </summary>
internal sealed class EntityEndpoints(ConfigRegistry registry, TimeProvider time)
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;

    private static readonly HashSet<string> TopLevel = ["services", "routes", "upstreams", "consumers", "plugins", "ca_certificates", "certificates"];

    public async Task HandleAsync(HttpContext context, string[] segments, string actor)
    {
        var method = context.Request.Method;
        var addressesEntity = segments.Length % 2 == 0;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            var tree = KongDeclarativeExporter.ToTree(registry.State?.Config ?? GatewayConfig.Empty, flat: true);
            var collection = Resolve(tree, segments, out var address);
            if (address is null)
            {
                await ListAsync(context, collection, tree);
                return;
            }

            var item = collection.Find(address) ?? throw NotFound(collection, address);
            await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, Present(item, collection, tree), AdminHttp.ETagOf(item));
            return;
        }

        if (HttpMethods.IsPost(method) && !addressesEntity)
        {
            var body = await AdminHttp.ReadObjectAsync(context);
            await ChangeAsync(context, segments, actor, $"create {Singular(segments)}", StatusCodes.Status201Created, (tree, collection, _) => Create(collection, body));
            return;
        }

        if (addressesEntity && (HttpMethods.IsPut(method) || HttpMethods.IsPatch(method)))
        {
            var body = await AdminHttp.ReadObjectAsync(context);
            var patch = HttpMethods.IsPatch(method);
            var created = false;
            await ChangeAsync(context, segments, actor, $"{(patch ? "update" : "replace")} {Singular(segments)} {segments[^1]}", StatusCodes.Status200OK, (tree, collection, address) =>
            {
                var existing = collection.Find(address!);
                CheckIfMatch(context, existing);
                if (existing is null)
                {
                    if (patch)
                    {
                        throw NotFound(collection, address!);
                    }

                    created = true;
                    SetAddress(body, collection, address!);
                    return Create(collection, body);
                }

                return Replace(tree, collection, existing, patch ? Merge(existing, body) : Replaced(existing, body));
            }, () => created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
            return;
        }

        if (addressesEntity && HttpMethods.IsDelete(method))
        {
            await ChangeAsync(context, segments, actor, $"delete {Singular(segments)} {segments[^1]}", StatusCodes.Status204NoContent, (tree, collection, address) =>
            {
                var existing = collection.Find(address!) ?? throw NotFound(collection, address!);
                CheckIfMatch(context, existing);
                collection.Array.Remove(existing);
                return null;
            });
            return;
        }

        context.Response.Headers.Allow = addressesEntity ? "GET, HEAD, PUT, PATCH, DELETE" : "GET, HEAD, POST";
        throw new AdminProblem(StatusCodes.Status405MethodNotAllowed, $"{method} is not allowed here");
    }

    private static string Singular(string[] segments) => segments.Length >= 3 ? segments[2] switch
    {
        "key-auth" => "key-auth credential",
        "jwt" => "jwt credential",
        "acls" => "acl",
        var other => other.TrimEnd('s'),
    } : segments[0].TrimEnd('s');

    private static void CheckIfMatch(HttpContext context, JsonObject? existing)
    {
        if (!AdminHttp.IfMatchHolds(context, existing is null ? null : AdminHttp.ETagOf(existing)))
        {
            throw new AdminProblem(StatusCodes.Status412PreconditionFailed, "If-Match does not match the entity's current ETag");
        }
    }

    /// <summary>
    /// Runs one change through the registry: edit the tree, validate it as a whole config, protect
    /// credentials, stamp times, publish; answers with the changed entity as stored.
    /// </summary>
    private async Task ChangeAsync(HttpContext context, string[] segments, string actor, string action, int status,
        Func<JsonObject, EntityCollection, string?, JsonObject?> edit, Func<int>? finalStatus = null)
    {
        var now = time.GetUtcNow();
        var (result, _) = await registry.UpdateAsync(current =>
        {
            var tree = KongDeclarativeExporter.ToTree(current, flat: true);
            var collection = Resolve(tree, segments, out var address);
            var changed = edit(tree, collection, address);
            var entityPath = changed is null ? null : collection.PathOf(changed);
            var plainSecrets = changed is null ? null : RevealOnce(changed);
            var next = Validate(tree, entityPath, current, now);
            return (next, (Id: changed is null ? null : CollectionText(changed, "id"), Secrets: plainSecrets));
        }, new ConfigChange(actor, action, now), context.RequestAborted);

        var code = finalStatus?.Invoke() ?? status;
        if (result.Id is null)
        {
            context.Response.StatusCode = code;
            return;
        }

        var tree = KongDeclarativeExporter.ToTree(registry.State!.Config, flat: true);
        var collection = Resolve(tree, segments, out _);
        var item = collection.Items.First(i => EntityCollection.Text(i, "id") == result.Id);
        var body = Present(item, collection, tree);
        foreach (var (field, value) in result.Secrets ?? [])
        {
            // A key or secret the gateway generated is shown once, in this answer; it is stored hashed or encrypted.
            body[field] = value;
        }

        await AdminHttp.WriteJsonAsync(context, code, body, AdminHttp.ETagOf(item));
    }

    private static string? CollectionText(JsonObject item, string field) => EntityCollection.Text(item, field);

    /// <summary>Secrets the gateway generated for this entity (marked while editing), to show once.</summary>
    private static Dictionary<string, string>? RevealOnce(JsonObject item)
    {
        if (item["__generated"] is not JsonObject generated)
        {
            return null;
        }

        item.Remove("__generated");
        return generated.ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
    }

    private GatewayConfig Validate(JsonObject tree, string? entityPath, GatewayConfig current, DateTimeOffset now)
    {
        var parsed = KongDeclarativeParser.Parse(tree.ToJsonString());
        var errors = parsed.Errors.ToList();
        var config = parsed.Config;
        if (config is not null)
        {
            config = registry.Protector.Protect(config, errors);
        }

        if (errors.Count > 0)
        {
            var relative = errors.Select(e => entityPath is not null && e.Path.StartsWith(entityPath + ".", StringComparison.Ordinal)
                ? e with { Path = e.Path[(entityPath.Length + 1)..] }
                : e).ToList();
            var conflict = relative.All(e => e.Message.StartsWith("duplicate ", StringComparison.Ordinal));
            throw new AdminProblem(conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                conflict ? "an entity with the same unique field already exists" : "the change does not validate", relative);
        }

        return ConfigTimestamps.Stamp(current, config!, now);
    }

    private static JsonObject Create(EntityCollection collection, JsonObject body)
    {
        body.Remove("created_at");
        body.Remove("updated_at");
        if (EntityCollection.Text(body, "id") is null)
        {
            body["id"] = Guid.NewGuid().ToString();
        }
        else if (collection.Find(EntityCollection.Text(body, "id")!) is not null)
        {
            throw new AdminProblem(StatusCodes.Status409Conflict, $"a {collection.Kind} with id '{EntityCollection.Text(body, "id")}' already exists");
        }

        GenerateCredentialSecrets(collection, body);
        collection.Add(body);
        return body;
    }

    /// <summary>Kong generates a key-auth key, and a jwt key and HMAC secret, when the client sends none.</summary>
    private static void GenerateCredentialSecrets(EntityCollection collection, JsonObject body)
    {
        var generated = new JsonObject();
        if (collection.Kind == "key-auth credential" && EntityCollection.Text(body, "key") is null)
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            body["key"] = key;
            generated["key"] = key;
        }

        if (collection.Kind == "jwt credential")
        {
            if (EntityCollection.Text(body, "key") is null)
            {
                body["key"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            }

            var algorithm = EntityCollection.Text(body, "algorithm") ?? "HS256";
            if (algorithm.StartsWith("HS", StringComparison.Ordinal) && EntityCollection.Text(body, "secret") is null)
            {
                var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
                body["secret"] = secret;
                generated["secret"] = secret;
            }
        }

        if (generated.Count > 0)
        {
            body["__generated"] = generated;
        }
    }

    private static void SetAddress(JsonObject body, EntityCollection collection, string address)
    {
        if (Guid.TryParse(address, out _))
        {
            body["id"] = address;
        }
        else if (collection.AddressFields.Length > 1)
        {
            body[collection.AddressFields[1]] = address;
        }
        else
        {
            throw NotFound(collection, address);
        }
    }

    private static JsonObject Merge(JsonObject existing, JsonObject patch)
    {
        var merged = (JsonObject)existing.DeepClone();
        foreach (var (key, value) in patch)
        {
            if (key is "id" or "created_at" or "updated_at")
            {
                continue;
            }

            // Kong merges a plugin's config field by field; other objects are replaced.
            if (key == "config" && merged[key] is JsonObject config && value is JsonObject partial)
            {
                foreach (var (field, fieldValue) in partial)
                {
                    config[field] = fieldValue?.DeepClone();
                }

                continue;
            }

            merged[key] = value?.DeepClone();
        }

        return merged;
    }

    private static JsonObject Replaced(JsonObject existing, JsonObject body)
    {
        var replaced = (JsonObject)body.DeepClone();
        replaced["id"] = existing["id"]!.DeepClone();
        replaced.Remove("created_at");
        replaced.Remove("updated_at");
        return replaced;
    }

    /// <summary>Swaps an entity in place and carries a renamed key over to everything that refers to it.</summary>
    private static JsonObject Replace(JsonObject tree, EntityCollection collection, JsonObject existing, JsonObject replacement)
    {
        var index = collection.Array.IndexOf(existing);
        var oldKey = KeyOf(collection, existing);
        if (collection.Parent is { } parent)
        {
            replacement[parent.Field] = parent.Key;
        }

        collection.Array[index] = replacement;
        var newKey = KeyOf(collection, replacement);
        if (oldKey != newKey)
        {
            var field = collection.Kind switch { "service" => "service", "route" => "route", "consumer" => "consumer", _ => null };
            if (field is not null)
            {
                foreach (var array in new[] { "routes", "plugins" })
                {
                    foreach (var item in ((JsonArray)tree[array]!).OfType<JsonObject>())
                    {
                        if (EntityCollection.Text(item, field) == oldKey)
                        {
                            item[field] = newKey;
                        }
                    }
                }
            }
        }

        return replacement;
    }

    /// <summary>The name other entities use for this one (the model's Key: name, else id).</summary>
    private static string? KeyOf(EntityCollection collection, JsonObject item) => collection.Kind switch
    {
        "consumer" => EntityCollection.Text(item, "username") ?? EntityCollection.Text(item, "custom_id") ?? EntityCollection.Text(item, "id"),
        _ => EntityCollection.Text(item, "name") ?? EntityCollection.Text(item, "id"),
    };

    private static AdminProblem NotFound(EntityCollection collection, string address) =>
        new(StatusCodes.Status404NotFound, $"no {collection.Kind} '{address}'");

    /// <summary>Maps URL segments to the collection they name, e.g. services/{s}/routes.</summary>
    internal static EntityCollection Resolve(JsonObject tree, string[] segments, out string? address)
    {
        if (!TopLevel.Contains(segments[0]))
        {
            throw new AdminProblem(StatusCodes.Status404NotFound, "no such management endpoint");
        }

        var top = TopCollection(tree, segments[0]);
        address = segments.Length > 1 ? segments[1] : null;
        if (segments.Length <= 2)
        {
            return top;
        }

        if (segments.Length > 4)
        {
            throw new AdminProblem(StatusCodes.Status404NotFound, "no such management endpoint");
        }

        var parent = top.Find(segments[1]) ?? throw NotFound(top, segments[1]);
        var parentKey = KeyOf(top, parent)!;
        var parentId = EntityCollection.Text(parent, "id")!;
        address = segments.Length > 3 ? segments[3] : null;
        return (segments[0], segments[2]) switch
        {
            ("services", "routes") => Filtered(TopCollection(tree, "routes"), "service", parentKey),
            ("services", "plugins") => Filtered(TopCollection(tree, "plugins"), "service", parentKey),
            ("routes", "plugins") => Filtered(TopCollection(tree, "plugins"), "route", parentKey),
            ("consumers", "plugins") => Filtered(TopCollection(tree, "plugins"), "consumer", parentKey),
            ("upstreams", "targets") => Nested(parent, top.PathOf(parent), "targets", "target", ["id", "target"], ("upstream", parentId)),
            ("consumers", "key-auth") => Nested(parent, top.PathOf(parent), "keyauth_credentials", "key-auth credential", ["id"], ("consumer", parentId)),
            ("consumers", "jwt") => Nested(parent, top.PathOf(parent), "jwt_secrets", "jwt credential", ["id", "key"], ("consumer", parentId)),
            ("consumers", "acls") => Nested(parent, top.PathOf(parent), "acls", "acl", ["id", "group"], ("consumer", parentId)),
            _ => throw new AdminProblem(StatusCodes.Status404NotFound, "no such management endpoint"),
        };
    }

    private static EntityCollection TopCollection(JsonObject tree, string name) => new()
    {
        Kind = name.TrimEnd('s'),
        Array = (JsonArray)tree[name]!,
        ArrayPath = name,
        AddressFields = name switch
        {
            "consumers" => ["id", "username", "custom_id"],
            "plugins" => ["id"],
            _ => ["id", "name"],
        },
    };

    private static EntityCollection Filtered(EntityCollection all, string field, string parentKey) => new()
    {
        Kind = all.Kind,
        Array = all.Array,
        ArrayPath = all.ArrayPath,
        AddressFields = all.AddressFields,
        Parent = (field, parentKey),
    };

    private static EntityCollection Nested(JsonObject parent, string parentPath, string field, string kind, string[] address, (string, string) link)
    {
        if (parent[field] is not JsonArray array)
        {
            array = [];
            parent[field] = array;
        }

        return new EntityCollection { Kind = kind, Array = array, ArrayPath = $"{parentPath}.{field}", AddressFields = address, ParentLink = link };
    }

    /// <summary>An entity as the Admin API shows it: references as {"id": ...}, nested lists left out.</summary>
    private static JsonObject Present(JsonObject item, EntityCollection collection, JsonObject tree)
    {
        var body = (JsonObject)item.DeepClone();
        body.Remove("__generated");
        if (collection.Kind is "upstream")
        {
            body.Remove("targets");
        }

        if (collection.Kind is "consumer")
        {
            body.Remove("keyauth_credentials");
            body.Remove("jwt_secrets");
            body.Remove("acls");
        }

        foreach (var (field, array) in new[] { ("service", "services"), ("route", "routes"), ("consumer", "consumers") })
        {
            if (EntityCollection.Text(body, field) is { } key && collection.Kind is "route" or "plugin")
            {
                var target = TopCollection(tree, array).Find(key);
                body[field] = new JsonObject { ["id"] = target is null ? key : EntityCollection.Text(target, "id") };
            }
        }

        if (collection.ParentLink is { } link)
        {
            body[link.Field] = new JsonObject { ["id"] = link.Id };
        }

        return body;
    }

    private static async Task ListAsync(HttpContext context, EntityCollection collection, JsonObject tree)
    {
        var query = context.Request.Query;
        var size = DefaultPageSize;
        if (query.TryGetValue("size", out var sizeText) && (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxPageSize))
        {
            throw new AdminProblem(StatusCodes.Status400BadRequest, $"size must be between 1 and {MaxPageSize}");
        }

        var offset = 0;
        if (query.TryGetValue("offset", out var offsetText) && !TryDecodeOffset(offsetText.ToString(), out offset))
        {
            throw new AdminProblem(StatusCodes.Status400BadRequest, "offset is not one this API returned");
        }

        var tags = query["tags"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var items = collection.Items
            .Where(i => tags.All(t => i["tags"] is JsonArray list && list.Any(x => x?.GetValue<string>() == t)))
            .ToList();
        var page = new JsonArray(items.Skip(offset).Take(size).Select(i => (JsonNode?)Present(i, collection, tree)).ToArray());
        string? next = null;
        if (offset + size < items.Count)
        {
            var nextQuery = QueryString.Create([
                new("size", size.ToString(CultureInfo.InvariantCulture)),
                new("offset", EncodeOffset(offset + size)),
                .. tags.Length > 0 ? [new KeyValuePair<string, string?>("tags", string.Join(',', tags))] : Array.Empty<KeyValuePair<string, string?>>(),
            ]);
            next = context.Request.Path + nextQuery.ToUriComponent();
        }

        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["data"] = page, ["next"] = next });
    }

    private static string EncodeOffset(int offset) =>
        Convert.ToBase64String(BitConverter.GetBytes(offset)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryDecodeOffset(string text, out int offset)
    {
        offset = 0;
        try
        {
            var padded = text.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var bytes = Convert.FromBase64String(padded);
            if (bytes.Length != 4)
            {
                return false;
            }

            offset = BitConverter.ToInt32(bytes);
            return offset >= 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
