using ServerlessGateway.Forwarding;

namespace ServerlessGateway;

/// <summary>The <c>Gateway</c> configuration section (DESIGN.md §5; environment variables use <c>Gateway__Key</c>).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Kong declarative file: DB-less mode without storage, cold-start fallback with it.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>CIDRs whose <c>X-Forwarded-For</c> is believed.</summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>When set, every request must carry this <c>X-Azure-FDID</c> (Azure Front Door's profile id).</summary>
    public string? FrontDoorId { get; set; }

    public UpstreamAddressPolicy Upstreams { get; set; } = new();

    /// <summary>Registry poll interval in seconds (DESIGN.md §4).</summary>
    public int ConfigRefreshSeconds { get; set; } = 5;

    /// <summary>
    /// This instance's identity for sharded rate-limit counters (DESIGN.md §5). Unset: Azure's
    /// <c>WEBSITE_INSTANCE_ID</c>, else host name and process id.
    /// </summary>
    public string? InstanceId { get; set; }

    /// <summary><see cref="InstanceId"/>, or its default.</summary>
    public string ResolveInstanceId() =>
        !string.IsNullOrWhiteSpace(InstanceId) ? InstanceId
        : Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID") is { Length: > 0 } azure ? azure
        : string.Concat(Environment.MachineName, "-", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public SecretsOptions Secrets { get; set; } = new();

    /// <summary>Retry budget and passive health recovery (docs/resilience.md).</summary>
    public ResilienceOptions Resilience { get; set; } = new();

    public AdminOptions Admin { get; set; } = new();

    public Observability.TracingOptions Tracing { get; set; } = new();

    /// <summary>
    /// One structured log line per proxied request (category <c>ServerlessGateway.AccessLog</c>). Default: on for
    /// the Standalone host, off on Functions, where the host records every request in Application Insights already.
    /// </summary>
    public bool AccessLog { get; set; }
}

public sealed class ResilienceOptions
{
    /// <summary>Retries a service may add, as a share of its requests over the last 10 s.</summary>
    public double RetryBudgetRatio { get; set; } = 0.2;

    /// <summary>Retries per second a service may always make, however few its requests.</summary>
    public int RetryBudgetMinPerSecond { get; set; } = 3;

    /// <summary>
    /// Seconds after which a target that passive checks took out gets traffic again when its upstream has no
    /// active checks to bring it back (Kong keeps it out until an admin re-enables it; docs/resilience.md).
    /// </summary>
    public double PassiveRecoverySeconds { get; set; } = 30;
}

public sealed class SecretsOptions
{
    /// <summary>Base64 of a 256-bit key for HMAC secrets at rest (a Key Vault reference in Azure).</summary>
    public string? Key { get; set; }

    /// <summary>Keys being rotated out: they still decrypt, and each publish re-encrypts their secrets under <see cref="Key"/>.</summary>
    public List<string> PreviousKeys { get; set; } = [];
}

public sealed class AdminOptions
{
    /// <summary>Admin keys, plain or <c>sha256:&lt;hex&gt;</c>; their index is the key id recorded as actor.</summary>
    public List<string> Keys { get; set; } = [];

    /// <summary>
    /// OIDC issuer of admin bearer tokens (Entra ID: <c>https://login.microsoftonline.com/{tenant}/v2.0</c>
    /// or, for v1 tokens, <c>https://sts.windows.net/{tenant}/</c>); its keys come from discovery.
    /// Tokens are accepted only with <see cref="Audience"/> and <see cref="Role"/> set too.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The <c>aud</c> admin tokens must carry (Entra ID: the app's client id for v2 tokens, its App ID URI for v1).</summary>
    public string? Audience { get; set; }

    /// <summary>The app role (in the token's <c>roles</c> claim) that grants management access.</summary>
    public string? Role { get; set; }
}
