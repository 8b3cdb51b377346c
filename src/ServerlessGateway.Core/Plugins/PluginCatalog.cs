using System.Collections.Frozen;
using ServerlessGateway.Authentication;

namespace ServerlessGateway.Plugins;

/// <summary>
/// Which plugin names the gateway knows. The priorities are Kong's (DESIGN.md §2, higher runs first).
/// Every planned plugin is built; Kong plugins outside the plan are rejected as unsupported, other names
/// as unknown.
/// </summary>
internal static class PluginCatalog
{
    public static readonly FrozenDictionary<string, int> Priorities = new Dictionary<string, int>
    {
        ["correlation-id"] = 100001,
        ["cors"] = 2000,
        ["jwt"] = 1450,
        ["key-auth"] = 1250,
        ["openid-connect"] = 1050,
        ["grpc-gateway"] = 998,
        ["ip-restriction"] = 990,
        ["request-size-limiting"] = 951,
        ["acl"] = 950,
        ["rate-limiting"] = 910,
        ["request-transformer"] = 801,
        ["response-transformer"] = 800,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The plugins that are built, by name.</summary>
    public static readonly FrozenDictionary<string, PluginDefinition> Definitions = new PluginDefinition[]
    {
        new Cors.CorsPlugin.Definition(),
        new JwtPlugin.Definition(),
        new KeyAuthPlugin.Definition(),
        new OpenIdConnectPlugin.Definition(),
        new AclPlugin.Definition(),
        new Transforms.RequestTransformerPlugin.Definition(),
        new Transforms.ResponseTransformerPlugin.Definition(),
        new Observability.CorrelationIdPlugin.Definition(),
        new RequestGuards.IpRestrictionPlugin.Definition(),
        new RequestGuards.RequestSizeLimitingPlugin.Definition(),
        new RateLimiting.RateLimitingPlugin.Definition(),
        new GrpcGateway.GrpcGatewayPlugin.Definition(),
    }.ToFrozenDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>Kong's bundled plugins (3.x) that this gateway does not plan to implement.</summary>
    private static readonly FrozenSet<string> KongOnly = new[]
    {
        "acme", "ai-proxy", "ai-prompt-decorator", "ai-prompt-guard", "ai-prompt-template", "ai-request-transformer",
        "ai-response-transformer", "aws-lambda", "azure-functions", "basic-auth", "bot-detection", "datadog",
        "file-log", "grpc-web", "hmac-auth", "http-log", "ldap-auth", "loggly", "oauth2", "opentelemetry",
        "post-function", "pre-function", "prometheus", "proxy-cache", "redirect", "request-termination",
        "response-ratelimiting", "session", "standard-webhooks", "statsd", "syslog", "tcp-log", "udp-log",
        "zipkin",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Null when the name may be imported, else the reason it may not.</summary>
    public static string? RejectReason(string name)
    {
        if (Definitions.ContainsKey(name))
        {
            return null;
        }

        return KongOnly.Contains(name)
            ? $"plugin '{name}' is a Kong plugin this gateway does not support"
            : $"unknown plugin '{name}'";
    }
}
