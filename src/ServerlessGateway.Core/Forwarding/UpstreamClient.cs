using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// The one pooled HTTP client for every upstream, set up as YARP's forwarder client factory does
/// (no proxy, redirects, cookies or decompression), plus the connect-time SSRF guard and Kong's
/// idle timeouts.
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    public UpstreamClient(UpstreamConnector connector)
    {
        var sockets = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            ConnectCallback = connector.ConnectAsync,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        };
        Invoker = new HttpMessageInvoker(new IdleTimeoutHandler(sockets), disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
