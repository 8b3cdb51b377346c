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

    /// <summary>The authenticated consumer (or the anonymous one), once an authentication plugin ran.</summary>
    public Configuration.ConsumerConfig? Consumer { get; internal set; }

    /// <summary>The credential that authenticated the request (Kong's X-Credential-Identifier), e.g. a jwt key or key-auth credential id.</summary>
    public string? CredentialIdentifier { get; internal set; }

    /// <summary>True when the consumer is the configured anonymous one (an authentication plugin failed with <c>anonymous</c> set).</summary>
    public bool Anonymous { get; internal set; }

    /// <summary>Claims of a validated token (jwt / openid-connect), for plugins that run later.</summary>
    public IReadOnlyDictionary<string, object?>? Claims { get; internal set; }

    /// <summary>Headers plugins add to the upstream request (identity, claims), applied after client identity headers are removed.</summary>
    internal List<KeyValuePair<string, string>>? UpstreamHeaders { get; set; }

    internal void AddUpstreamHeader(string name, string value) => (UpstreamHeaders ??= []).Add(new(name, value));

    /// <summary>True once a non-anonymous credential authenticated the request.</summary>
    public bool Authenticated => Consumer is not null && !Anonymous || CredentialIdentifier is not null && !Anonymous;

    internal Uri? UpstreamUri { get; set; }

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamps of sending upstream and of the upstream's response headers (0: not reached).</summary>
    internal long UpstreamStartTimestamp { get; set; }

    internal long UpstreamHeadersTimestamp { get; set; }

    /// <summary>Set when the access log wants byte counts: bodies without a Content-Length are counted through these.</summary>
    internal bool CountBodies { get; set; }

    internal Observability.CountingStream? RequestBodyCounter { get; set; }

    internal Observability.CountingStream? ResponseBodyCounter { get; set; }

    /// <summary>The upstream path a plugin set (request-transformer's replace.uri), used instead of the one built from service and route.</summary>
    internal string? UpstreamPathOverride { get; set; }

    /// <summary>The correlation-id plugin's id for this request; problem+json carries it as <c>correlation_id</c>.</summary>
    public string? CorrelationId { get; internal set; }

    /// <summary>Plugins with a response phase selected for this request, in priority order; null (no allocation) when none.</summary>
    internal List<Plugins.GatewayPlugin>? ResponsePlugins { get; set; }

    /// <summary>The google.api.http binding grpc-gateway turned this request into a gRPC call with; its response phase converts the answer.</summary>
    internal GrpcGateway.HttpBinding? GrpcBinding { get; set; }

    /// <summary>Set when request-size-limiting stopped a streamed body at its limit: the failed forward becomes a 413.</summary>
    internal bool RequestBodyTooLarge { get; set; }
}
