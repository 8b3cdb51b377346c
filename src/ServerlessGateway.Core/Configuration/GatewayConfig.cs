namespace ServerlessGateway.Configuration;

/// <summary>
/// The whole gateway configuration, Kong 3.x's entity model flattened: routes and plugins
/// point at their service/route/consumer by name or id instead of nesting.
/// Parsed and validated once (<see cref="KongDeclarativeParser"/>), then compiled into a snapshot.
/// </summary>
public sealed record GatewayConfig
{
    public IReadOnlyList<ServiceConfig> Services { get; init; } = [];
    public IReadOnlyList<RouteConfig> Routes { get; init; } = [];
    public IReadOnlyList<UpstreamConfig> Upstreams { get; init; } = [];
    public IReadOnlyList<ConsumerConfig> Consumers { get; init; } = [];
    public IReadOnlyList<PluginConfig> Plugins { get; init; } = [];
    public IReadOnlyList<CaCertificateConfig> CaCertificates { get; init; } = [];
    public IReadOnlyList<CertificateConfig> Certificates { get; init; } = [];

    public static GatewayConfig Empty { get; } = new();
}

/// <summary>What every Kong entity has: an id and Kong's timestamps (Unix seconds).</summary>
public interface IEntity
{
    string Id { get; }
    long? CreatedAt { get; }
    long? UpdatedAt { get; }
}

/// <summary>Kong service. <c>url</c> is a shorthand the parser splits into these fields, as Kong does.</summary>
public sealed record ServiceConfig : IEntity
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public string Protocol { get; init; } = "http";
    public required string Host { get; init; }
    public int Port { get; init; } = 80;
    public string? Path { get; init; }
    public int ConnectTimeout { get; init; } = 60_000;
    public int ReadTimeout { get; init; } = 60_000;
    public int WriteTimeout { get; init; } = 60_000;
    public int Retries { get; init; } = 5;
    /// <summary>Our extension (docs/resilience.md): a circuit breaker per target of this service; null = none, as in Kong.</summary>
    public CircuitBreakerConfig? CircuitBreaker { get; init; }
    public bool Enabled { get; init; } = true;
    /// <summary>Upstream TLS (https/grpcs): null verifies, as this gateway's secure default (docs/protocols.md; Kong's null does not).</summary>
    public bool? TlsVerify { get; init; }
    public int? TlsVerifyDepth { get; init; }
    /// <summary>Ids of <see cref="CaCertificateConfig"/>s: when set, the only roots trusted for this upstream.</summary>
    public IReadOnlyList<string> CaCertificates { get; init; } = [];
    /// <summary>Id of the <see cref="CertificateConfig"/> presented to the upstream (mTLS).</summary>
    public string? ClientCertificate { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }

    public string Key => Name ?? Id;
}

public sealed record RouteConfig : IEntity
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    /// <summary>Name or id of the service; null for a route without service (Kong allows it; it answers 503).</summary>
    public string? Service { get; init; }
    public IReadOnlyList<string> Paths { get; init; } = [];
    public IReadOnlyList<string> Methods { get; init; } = [];
    public IReadOnlyList<string> Hosts { get; init; } = [];
    /// <summary>Header name -> accepted values (Kong: any value matches; <c>~*</c> prefix = case-insensitive regex).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; init; } = EmptyHeaders;
    public bool StripPath { get; init; } = true;
    public bool PreserveHost { get; init; }
    public string PathHandling { get; init; } = "v0";
    public int RegexPriority { get; init; }
    public bool RequestBuffering { get; init; } = true;
    public bool ResponseBuffering { get; init; } = true;
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }

    public string Key => Name ?? Id;

    internal static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> EmptyHeaders =
        new Dictionary<string, IReadOnlyList<string>>();
}

public sealed record UpstreamConfig : IEntity
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string Algorithm { get; init; } = "round-robin";
    public int Slots { get; init; } = 10_000;
    public string? HostHeader { get; init; }
    public HealthchecksConfig Healthchecks { get; init; } = HealthchecksConfig.Default;
    public IReadOnlyList<TargetConfig> Targets { get; init; } = [];
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

public sealed record TargetConfig : IEntity
{
    public required string Id { get; init; }
    /// <summary><c>host:port</c> as Kong writes it (port defaults to 8000).</summary>
    public required string Target { get; init; }
    public int Weight { get; init; } = 100;
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

public sealed record ConsumerConfig : IEntity
{
    public required string Id { get; init; }
    public string? Username { get; init; }
    public string? CustomId { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
    public IReadOnlyList<KeyAuthCredential> KeyAuthCredentials { get; init; } = [];
    public IReadOnlyList<JwtSecret> JwtSecrets { get; init; } = [];
    public IReadOnlyList<AclGroup> Acls { get; init; } = [];

    public string Key => Username ?? CustomId ?? Id;
}

public sealed record KeyAuthCredential : IEntity
{
    public required string Id { get; init; }
    public required string Key { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

public sealed record JwtSecret : IEntity
{
    public required string Id { get; init; }
    public required string Key { get; init; }
    public string Algorithm { get; init; } = "HS256";
    public string? Secret { get; init; }
    public string? RsaPublicKey { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

public sealed record AclGroup : IEntity
{
    public required string Id { get; init; }
    public required string Group { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

/// <summary>
/// A plugin instance. Scope: none of service/route/consumer = global. <see cref="Config"/> is the
/// plugin's own config object as written (Kong field names); the plugin validates and compiles it.
/// </summary>
public sealed record PluginConfig : IEntity
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string? Service { get; init; }
    public string? Route { get; init; }
    public string? Consumer { get; init; }
    public bool Enabled { get; init; } = true;
    public System.Text.Json.Nodes.JsonObject Config { get; init; } = [];
    public IReadOnlyList<string> Protocols { get; init; } = DefaultProtocols;
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Unix seconds, as Kong writes them; set by the registry when the entity is created or changed.</summary>
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }

    internal static readonly IReadOnlyList<string> DefaultProtocols = ["grpc", "grpcs", "http", "https"];
}
