using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>
/// A hand-written IdP behind an <see cref="HttpMessageHandler"/>: serves a discovery document and a
/// JWK set from memory, counts every fetch, and can be taken down or held (to observe single flight
/// and timeouts). No socket is opened.
/// </summary>
internal sealed class FakeIdentityProvider : HttpMessageHandler
{
    public const string Issuer = "https://idp.test/tenant/v2.0";
    public const string DiscoveryUrl = Issuer + "/.well-known/openid-configuration";
    public const string JwksUrl = "https://idp.test/tenant/discovery/v2.0/keys";

    private int _discoveryHits;
    private int _jwksHits;

    public string Jwks { get; set; } = """{"keys":[]}""";

    public string DiscoveredIssuer { get; set; } = Issuer;

    public string DiscoveredJwksUri { get; set; } = JwksUrl;

    /// <summary>When set, every fetch answers 503.</summary>
    public bool Down { get; set; }

    /// <summary>When set, fetches wait for it (and honour cancellation).</summary>
    public TaskCompletionSource? Hold { get; set; }

    /// <summary>When set, the JWK set is sent without a Content-Length.</summary>
    public bool Chunked { get; set; }

    public int DiscoveryHits => Volatile.Read(ref _discoveryHits);

    public int JwksHits => Volatile.Read(ref _jwksHits);

    public HttpMessageInvoker Invoker() => new(this, disposeHandler: false);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var url = request.RequestUri!.AbsoluteUri;
        if (url == DiscoveryUrl)
        {
            Interlocked.Increment(ref _discoveryHits);
        }
        else if (url == DiscoveredJwksUri)
        {
            Interlocked.Increment(ref _jwksHits);
        }

        if (Hold is { } hold)
        {
            await hold.Task.WaitAsync(cancellationToken);
        }

        if (Down)
        {
            return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        }

        if (url == DiscoveryUrl)
        {
            var discovery = new JsonObject { ["issuer"] = DiscoveredIssuer, ["jwks_uri"] = DiscoveredJwksUri, ["token_endpoint"] = Issuer + "/token" };
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(discovery.ToJsonString(), Encoding.UTF8, "application/json") };
        }

        if (url == DiscoveredJwksUri)
        {
            HttpContent content = Chunked ? new UnknownLengthContent(Encoding.UTF8.GetBytes(Jwks)) : new StringContent(Jwks, Encoding.UTF8, "application/json");
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        }

        return new HttpResponseMessage(HttpStatusCode.NotFound);
    }
}

/// <summary>A body whose length is not announced (as a chunked response): the reader must bound it itself.</summary>
internal sealed class UnknownLengthContent(byte[] body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(body).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
