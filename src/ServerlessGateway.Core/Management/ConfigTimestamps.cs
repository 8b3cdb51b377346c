using System.Text.Json;
using System.Text.Json.Nodes;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Management;

/// <summary>
/// Kong's <c>created_at</c>/<c>updated_at</c> across a change: an entity keeps its creation time,
/// and its update time moves only when its content changed. Also lists what a change does (the
/// diff a dry run returns).
/// </summary>
internal static class ConfigTimestamps
{
    public static GatewayConfig Stamp(GatewayConfig current, GatewayConfig next, DateTimeOffset now)
    {
        var t = now.ToUnixTimeSeconds();
        var targets = current.Upstreams.SelectMany(u => u.Targets).ToList();
        var keyAuth = current.Consumers.SelectMany(c => c.KeyAuthCredentials).ToList();
        var jwt = current.Consumers.SelectMany(c => c.JwtSecrets).ToList();
        var acls = current.Consumers.SelectMany(c => c.Acls).ToList();
        return next with
        {
            Services = Apply(current.Services, next.Services, s => s.Id, (s, c, u) => s with { CreatedAt = c, UpdatedAt = u }, t),
            Routes = Apply(current.Routes, next.Routes, r => r.Id, (r, c, u) => r with { CreatedAt = c, UpdatedAt = u }, t),
            Upstreams = Apply(current.Upstreams,
                next.Upstreams.Select(up => up with { Targets = Apply(targets, up.Targets, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t) }).ToList(),
                u => u.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
            Consumers = Apply(current.Consumers,
                next.Consumers.Select(co => co with
                {
                    KeyAuthCredentials = Apply(keyAuth, co.KeyAuthCredentials, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
                    JwtSecrets = Apply(jwt, co.JwtSecrets, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
                    Acls = Apply(acls, co.Acls, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
                }).ToList(),
                c => c.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
            Plugins = Apply(current.Plugins, next.Plugins, p => p.Id, (p, c, u) => p with { CreatedAt = c, UpdatedAt = u }, t),
            CaCertificates = Apply(current.CaCertificates, next.CaCertificates, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
            Certificates = Apply(current.Certificates, next.Certificates, x => x.Id, (x, c, u) => x with { CreatedAt = c, UpdatedAt = u }, t),
        };
    }

    private static List<T> Apply<T>(IReadOnlyList<T> before, IReadOnlyList<T> after, Func<T, string> id, Func<T, long?, long?, T> set, long now)
        where T : IEntity
    {
        var previous = before.ToDictionary(id, StringComparer.OrdinalIgnoreCase);
        var result = new List<T>(after.Count);
        foreach (var item in after)
        {
            if (previous.TryGetValue(id(item), out var old) && Content(set, old) == Content(set, item))
            {
                result.Add(set(item, Created(old) ?? now, Updated(old) ?? now));
            }
            else
            {
                // New entities keep times they arrive with (an exported config re-imported elsewhere).
                result.Add(old is null
                    ? set(item, Created(item) ?? now, Updated(item) ?? now)
                    : set(item, Created(old) ?? now, now));
            }
        }

        return result;

        static long? Created(T x) => x.CreatedAt;
        static long? Updated(T x) => x.UpdatedAt;
    }

    private static string Content<T>(Func<T, long?, long?, T> set, T item) => JsonSerializer.Serialize(set(item, null, null));

    /// <summary>What a change creates, updates and deletes, per entity kind, by id.</summary>
    public static JsonArray Diff(GatewayConfig current, GatewayConfig next)
    {
        var changes = new JsonArray();
        Compare(changes, "service", current.Services, next.Services, s => s.Id, s => s.Name, s => s with { CreatedAt = null, UpdatedAt = null });
        Compare(changes, "route", current.Routes, next.Routes, r => r.Id, r => r.Name, r => r with { CreatedAt = null, UpdatedAt = null });
        Compare(changes, "upstream", current.Upstreams, next.Upstreams, u => u.Id, u => u.Name, u => u with { CreatedAt = null, UpdatedAt = null, Targets = u.Targets.Select(x => x with { CreatedAt = null, UpdatedAt = null }).ToList() });
        Compare(changes, "consumer", current.Consumers, next.Consumers, c => c.Id, c => c.Username ?? c.CustomId, c => c with
        {
            CreatedAt = null,
            UpdatedAt = null,
            KeyAuthCredentials = c.KeyAuthCredentials.Select(x => x with { CreatedAt = null, UpdatedAt = null }).ToList(),
            JwtSecrets = c.JwtSecrets.Select(x => x with { CreatedAt = null, UpdatedAt = null }).ToList(),
            Acls = c.Acls.Select(x => x with { CreatedAt = null, UpdatedAt = null }).ToList(),
        });
        Compare(changes, "plugin", current.Plugins, next.Plugins, p => p.Id, p => p.Name, p => p with { CreatedAt = null, UpdatedAt = null });
        Compare(changes, "ca_certificate", current.CaCertificates, next.CaCertificates, c => c.Id, _ => null, c => c with { CreatedAt = null, UpdatedAt = null });
        Compare(changes, "certificate", current.Certificates, next.Certificates, c => c.Id, _ => null, c => c with { CreatedAt = null, UpdatedAt = null });
        return changes;
    }

    private static void Compare<T>(JsonArray changes, string kind, IReadOnlyList<T> before, IReadOnlyList<T> after,
        Func<T, string> id, Func<T, string?> name, Func<T, T> withoutTimes)
    {
        var old = before.ToDictionary(id, StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in after)
        {
            seen.Add(id(item));
            var action = !old.TryGetValue(id(item), out var previous) ? "create"
                : JsonSerializer.Serialize(withoutTimes(previous)) != JsonSerializer.Serialize(withoutTimes(item)) ? "update"
                : null;
            if (action is not null)
            {
                changes.Add(new JsonObject { ["action"] = action, ["kind"] = kind, ["id"] = id(item), ["name"] = name(item) });
            }
        }

        foreach (var item in before.Where(i => !seen.Contains(id(i))))
        {
            changes.Add(new JsonObject { ["action"] = "delete", ["kind"] = kind, ["id"] = id(item), ["name"] = name(item) });
        }
    }
}
