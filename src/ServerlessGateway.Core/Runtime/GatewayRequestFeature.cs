using System.Net;
using ServerlessGateway.Routing;

namespace ServerlessGateway.Runtime;

/// <summary>Per-request gateway state, one typed feature on <c>HttpContext.Features</c>.</summary>
public sealed class GatewayRequestFeature
{
    private string? _requestId;

    /// <summary>Kong-style request id (32 hex digits), made on first use; carried by problem+json and logs.</summary>
    public string RequestId => _requestId ??= Guid.NewGuid().ToString("N");

    public IPAddress? ClientAddress { get; internal set; }

    /// <summary>True when the peer is a trusted proxy (or the verified Front Door), so its forwarding headers are believed.</summary>
    public bool PeerIsTrustedProxy { get; internal set; }

    /// <summary>The canonical request path every stage sees.</summary>
    public string Path { get; internal set; } = "/";

    /// <summary>The raw query string including its leading '?', or empty.</summary>
    public string Query { get; internal set; } = "";

    internal RouteMatch Match { get; set; }

    internal Uri? UpstreamUri { get; set; }
}
