using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessGateway.Configuration;

/// <summary>
/// Writes a <see cref="GatewayConfig"/> back in Kong's declarative 3.0 format, nested as deck writes
/// it (routes and single-scope plugins under their service, route or consumer), every field written
/// out, so that parsing the output gives the same config again.
/// </summary>
public static partial class KongDeclarativeExporter
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJson(GatewayConfig config) => ToTree(config).ToJsonString(JsonOptions);

    public static string ToYaml(GatewayConfig config)
    {
        var builder = new StringBuilder();
        WriteYamlObject(builder, ToTree(config), indent: 0);
        return builder.ToString();
    }

    /// <summary>
    /// The config as a JSON tree. <paramref name="flat"/> writes routes and plugins top-level with
    /// references (the shape the management API edits); otherwise they nest as deck writes them.
    /// </summary>
    public static JsonObject ToTree(GatewayConfig config, bool flat = false)
    {
        if (flat)
        {
            return FlatTree(config);
        }

        var root = new JsonObject { ["_format_version"] = "3.0" };
        AddList(root, "ca_certificates", config.CaCertificates.Select(c => (JsonNode)CaCertificate(c)));
        AddList(root, "certificates", config.Certificates.Select(c => (JsonNode)Certificate(c)));
        var nestedPlugins = new HashSet<PluginConfig>(ReferenceEqualityComparer.Instance);

        var services = new JsonArray();
        foreach (var service in config.Services)
        {
            var node = Service(service);
            var routes = new JsonArray();
            foreach (var route in config.Routes.Where(r => r.Service is not null && Refers(r.Service, service.Id, service.Name)))
            {
                var routeNode = Route(route);
                AddPlugins(routeNode, config.Plugins.Where(p => p.Service is null && p.Consumer is null && p.Route is not null && Refers(p.Route, route.Id, route.Name)), nestedPlugins);
                routes.Add(routeNode);
            }

            if (routes.Count > 0)
            {
                node["routes"] = routes;
            }

            AddPlugins(node, config.Plugins.Where(p => p.Route is null && p.Consumer is null && p.Service is not null && Refers(p.Service, service.Id, service.Name)), nestedPlugins);
            services.Add(node);
        }

        if (services.Count > 0)
        {
            root["services"] = services;
        }

        AddList(root, "routes", config.Routes.Where(r => r.Service is null).Select(r => (JsonNode)Route(r)));
        AddList(root, "upstreams", config.Upstreams.Select(u => (JsonNode)Upstream(u)));

        var consumers = new JsonArray();
        foreach (var consumer in config.Consumers)
        {
            var node = Consumer(consumer);
            AddPlugins(node, config.Plugins.Where(p => p.Route is null && p.Service is null && p.Consumer is not null
                && Refers(p.Consumer, consumer.Id, consumer.Username, consumer.CustomId)), nestedPlugins);
            consumers.Add(node);
        }

        if (consumers.Count > 0)
        {
            root["consumers"] = consumers;
        }

        AddList(root, "plugins", config.Plugins.Where(p => !nestedPlugins.Contains(p)).Select(p => (JsonNode)Plugin(p, withScope: true)));
        return root;
    }

    private static JsonObject FlatTree(GatewayConfig config)
    {
        var root = new JsonObject { ["_format_version"] = "3.0" };
        root["services"] = new JsonArray(config.Services.Select(s => (JsonNode?)Service(s)).ToArray());
        root["routes"] = new JsonArray(config.Routes.Select(r =>
        {
            var node = Route(r);
            if (r.Service is not null)
            {
                node["service"] = r.Service;
            }

            return (JsonNode?)node;
        }).ToArray());
        root["upstreams"] = new JsonArray(config.Upstreams.Select(u => (JsonNode?)Upstream(u)).ToArray());
        root["consumers"] = new JsonArray(config.Consumers.Select(c => (JsonNode?)Consumer(c)).ToArray());
        root["plugins"] = new JsonArray(config.Plugins.Select(p => (JsonNode?)Plugin(p, withScope: true)).ToArray());
        root["ca_certificates"] = new JsonArray(config.CaCertificates.Select(c => (JsonNode?)CaCertificate(c)).ToArray());
        root["certificates"] = new JsonArray(config.Certificates.Select(c => (JsonNode?)Certificate(c)).ToArray());
        return root;
    }

    private static bool Refers(string reference, string id, params string?[] names) =>
        reference == id || names.Contains(reference);

    private static void AddPlugins(JsonObject parent, IEnumerable<PluginConfig> plugins, HashSet<PluginConfig> nested)
    {
        var list = new JsonArray();
        foreach (var plugin in plugins)
        {
            nested.Add(plugin);
            list.Add(Plugin(plugin, withScope: false));
        }

        if (list.Count > 0)
        {
            parent["plugins"] = list;
        }
    }

    private static void AddList(JsonObject parent, string key, IEnumerable<JsonNode> items)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            array.Add(item);
        }

        if (array.Count > 0)
        {
            parent[key] = array;
        }
    }

    private static JsonObject Entity(string id, long? createdAt, long? updatedAt)
    {
        var node = new JsonObject { ["id"] = id };
        if (createdAt is { } created)
        {
            node["created_at"] = created;
        }

        if (updatedAt is { } updated)
        {
            node["updated_at"] = updated;
        }

        return node;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    private static void Set(JsonObject node, string key, string? value)
    {
        if (value is not null)
        {
            node[key] = value;
        }
    }

    internal static JsonObject Service(ServiceConfig s)
    {
        var node = Entity(s.Id, s.CreatedAt, s.UpdatedAt);
        Set(node, "name", s.Name);
        node["protocol"] = s.Protocol;
        node["host"] = s.Host;
        node["port"] = s.Port;
        Set(node, "path", s.Path);
        node["connect_timeout"] = s.ConnectTimeout;
        node["read_timeout"] = s.ReadTimeout;
        node["write_timeout"] = s.WriteTimeout;
        node["retries"] = s.Retries;
        if (s.CircuitBreaker is { } breaker)
        {
            node["circuit_breaker"] = new JsonObject
            {
                ["failure_ratio"] = breaker.FailureRatio,
                ["minimum_throughput"] = breaker.MinimumThroughput,
                ["sampling_duration"] = breaker.SamplingDuration,
                ["break_duration"] = breaker.BreakDuration,
                ["failure_statuses"] = Ints(breaker.FailureStatuses),
            };
        }

        node["enabled"] = s.Enabled;
        // Upstream TLS fields only when set: Kong rejects them on http/grpc services.
        if (s.TlsVerify is { } verify)
        {
            node["tls_verify"] = verify;
        }

        if (s.TlsVerifyDepth is { } depth)
        {
            node["tls_verify_depth"] = depth;
        }

        if (s.CaCertificates.Count > 0)
        {
            node["ca_certificates"] = Strings(s.CaCertificates);
        }

        if (s.ClientCertificate is { } client)
        {
            node["client_certificate"] = new JsonObject { ["id"] = client };
        }

        node["tags"] = Strings(s.Tags);
        return node;
    }

    internal static JsonObject CaCertificate(CaCertificateConfig c)
    {
        var node = Entity(c.Id, c.CreatedAt, c.UpdatedAt);
        node["cert"] = c.Cert;
        node["tags"] = Strings(c.Tags);
        return node;
    }

    /// <summary>The key as stored: <c>enc:v1:</c> or a vault reference once the registry has protected it, never plain from there.</summary>
    internal static JsonObject Certificate(CertificateConfig c)
    {
        var node = Entity(c.Id, c.CreatedAt, c.UpdatedAt);
        node["cert"] = c.Cert;
        node["key"] = c.Key;
        node["tags"] = Strings(c.Tags);
        return node;
    }

    internal static JsonObject Route(RouteConfig r)
    {
        var node = Entity(r.Id, r.CreatedAt, r.UpdatedAt);
        Set(node, "name", r.Name);
        node["paths"] = Strings(r.Paths);
        node["methods"] = Strings(r.Methods);
        node["hosts"] = Strings(r.Hosts);
        var headers = new JsonObject();
        foreach (var (name, values) in r.Headers)
        {
            headers[name] = Strings(values);
        }

        node["headers"] = headers;
        node["strip_path"] = r.StripPath;
        node["preserve_host"] = r.PreserveHost;
        node["path_handling"] = r.PathHandling;
        node["regex_priority"] = r.RegexPriority;
        node["request_buffering"] = r.RequestBuffering;
        node["response_buffering"] = r.ResponseBuffering;
        node["protocols"] = Strings(["http", "https"]);
        node["https_redirect_status_code"] = 426;
        node["tags"] = Strings(r.Tags);
        return node;
    }

    internal static JsonObject Upstream(UpstreamConfig u, bool withTargets = true)
    {
        var node = Entity(u.Id, u.CreatedAt, u.UpdatedAt);
        node["name"] = u.Name;
        node["algorithm"] = u.Algorithm;
        node["slots"] = u.Slots;
        Set(node, "host_header", u.HostHeader);
        node["healthchecks"] = Healthchecks(u.Healthchecks);
        node["tags"] = Strings(u.Tags);
        if (withTargets)
        {
            node["targets"] = new JsonArray(u.Targets.Select(t => (JsonNode?)Target(t)).ToArray());
        }

        return node;
    }

    /// <summary>The whole tree, as deck writes it, with Kong's defaults for the fields this gateway does not implement.</summary>
    private static JsonObject Healthchecks(HealthchecksConfig h) => new()
    {
        ["threshold"] = 0,
        ["active"] = new JsonObject
        {
            ["type"] = h.Active.Type,
            ["http_path"] = h.Active.HttpPath,
            ["timeout"] = h.Active.Timeout,
            ["concurrency"] = h.Active.Concurrency,
            ["https_sni"] = null,
            ["https_verify_certificate"] = true,
            ["headers"] = null,
            ["healthy"] = Healthy(h.Active.Healthy, withInterval: true),
            ["unhealthy"] = Unhealthy(h.Active.Unhealthy, withInterval: true),
        },
        ["passive"] = new JsonObject
        {
            ["type"] = "http",
            ["healthy"] = Healthy(h.Passive.Healthy, withInterval: false),
            ["unhealthy"] = Unhealthy(h.Passive.Unhealthy, withInterval: false),
        },
    };

    private static JsonObject Healthy(HealthyThresholds t, bool withInterval)
    {
        var node = new JsonObject();
        if (withInterval)
        {
            node["interval"] = t.Interval;
        }

        node["successes"] = t.Successes;
        node["http_statuses"] = Ints(t.HttpStatuses);
        return node;
    }

    private static JsonObject Unhealthy(UnhealthyThresholds t, bool withInterval)
    {
        var node = new JsonObject();
        if (withInterval)
        {
            node["interval"] = t.Interval;
        }

        node["http_failures"] = t.HttpFailures;
        node["tcp_failures"] = t.TcpFailures;
        node["timeouts"] = t.Timeouts;
        node["http_statuses"] = Ints(t.HttpStatuses);
        return node;
    }

    private static JsonArray Ints(IEnumerable<int> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    internal static JsonObject Target(TargetConfig t)
    {
        var node = Entity(t.Id, t.CreatedAt, t.UpdatedAt);
        node["target"] = t.Target;
        node["weight"] = t.Weight;
        node["tags"] = Strings(t.Tags);
        return node;
    }

    internal static JsonObject Consumer(ConsumerConfig c, bool withCredentials = true)
    {
        var node = Entity(c.Id, c.CreatedAt, c.UpdatedAt);
        Set(node, "username", c.Username);
        Set(node, "custom_id", c.CustomId);
        node["tags"] = Strings(c.Tags);
        if (!withCredentials)
        {
            return node;
        }

        if (c.KeyAuthCredentials.Count > 0)
        {
            node["keyauth_credentials"] = new JsonArray(c.KeyAuthCredentials.Select(k => (JsonNode?)KeyAuth(k)).ToArray());
        }

        if (c.JwtSecrets.Count > 0)
        {
            node["jwt_secrets"] = new JsonArray(c.JwtSecrets.Select(j => (JsonNode?)Jwt(j)).ToArray());
        }

        if (c.Acls.Count > 0)
        {
            node["acls"] = new JsonArray(c.Acls.Select(a => (JsonNode?)Acl(a)).ToArray());
        }

        return node;
    }

    internal static JsonObject KeyAuth(KeyAuthCredential k)
    {
        var node = Entity(k.Id, k.CreatedAt, k.UpdatedAt);
        node["key"] = k.Key;
        node["tags"] = Strings(k.Tags);
        return node;
    }

    internal static JsonObject Jwt(JwtSecret j)
    {
        var node = Entity(j.Id, j.CreatedAt, j.UpdatedAt);
        node["key"] = j.Key;
        node["algorithm"] = j.Algorithm;
        Set(node, "secret", j.Secret);
        Set(node, "rsa_public_key", j.RsaPublicKey);
        node["tags"] = Strings(j.Tags);
        return node;
    }

    internal static JsonObject Acl(AclGroup a)
    {
        var node = Entity(a.Id, a.CreatedAt, a.UpdatedAt);
        node["group"] = a.Group;
        node["tags"] = Strings(a.Tags);
        return node;
    }

    internal static JsonObject Plugin(PluginConfig p, bool withScope)
    {
        var node = Entity(p.Id, p.CreatedAt, p.UpdatedAt);
        node["name"] = p.Name;
        if (withScope)
        {
            Set(node, "service", p.Service);
            Set(node, "route", p.Route);
            Set(node, "consumer", p.Consumer);
        }

        node["enabled"] = p.Enabled;
        node["config"] = p.Config.DeepClone();
        node["protocols"] = Strings(p.Protocols);
        node["tags"] = Strings(p.Tags);
        return node;
    }

    private static void WriteYamlObject(StringBuilder builder, JsonObject obj, int indent)
    {
        var first = true;
        foreach (var (key, value) in obj)
        {
            if (!first || indent > 0)
            {
                builder.Append(' ', indent);
            }

            first = false;
            builder.Append(YamlKey(key)).Append(':');
            WriteYamlValue(builder, value, indent);
        }
    }

    /// <summary>Writes the value after "key:" or "-" (the caller wrote those, no trailing space).</summary>
    private static void WriteYamlValue(StringBuilder builder, JsonNode? value, int indent)
    {
        switch (value)
        {
            case JsonObject { Count: 0 }:
                builder.Append(" {}\n");
                break;
            case JsonObject child:
                builder.Append('\n');
                WriteYamlObject(builder, child, indent + 2);
                break;
            case JsonArray { Count: 0 }:
                builder.Append(" []\n");
                break;
            case JsonArray array:
                builder.Append('\n');
                foreach (var item in array)
                {
                    builder.Append(' ', indent).Append('-');
                    if (item is JsonObject { Count: > 0 } itemObject)
                    {
                        // "- key: value" with the following keys aligned under the first.
                        var itemText = new StringBuilder();
                        WriteYamlObject(itemText, itemObject, indent + 2);
                        builder.Append(' ').Append(itemText.ToString(indent + 2, itemText.Length - indent - 2));
                    }
                    else
                    {
                        WriteYamlValue(builder, item, indent + 2);
                    }
                }

                break;
            default:
                builder.Append(' ').Append(YamlScalar(value)).Append('\n');
                break;
        }
    }

    private static string YamlKey(string key) => PlainKey().IsMatch(key) ? key : JsonSerializer.Serialize(key, JsonOptions);

    /// <summary>A JSON scalar literal is a valid YAML flow scalar (strings double-quoted with JSON escapes).</summary>
    private static string YamlScalar(JsonNode? value) => value is null ? "null" : value.ToJsonString(JsonOptions);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_\\-]*$")]
    private static partial Regex PlainKey();
}
