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
}
