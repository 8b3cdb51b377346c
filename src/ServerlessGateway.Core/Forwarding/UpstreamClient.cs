using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// The pooled HTTP client for every upstream, set up as YARP's forwarder client factory does
/// (no proxy, redirects, cookies or decompression), plus the connect-time SSRF guard and Kong's
/// idle timeouts. SocketsHttpHandler pools connections per scheme, host and port; services with
/// TLS settings of their own (<see cref="UpstreamTls"/>) get a handler per distinct setting, each
/// with the same connect callback, so the SSRF guard stands on every path.
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    private readonly UpstreamConnector _connector;
    private readonly HttpMessageInvoker _default;
    // Bounded by the distinct TLS settings ever configured; idle connections close after 60 s.
    private readonly ConcurrentDictionary<string, HttpMessageInvoker> _byTls = new(StringComparer.Ordinal);
    private readonly Lock _create = new();

    public UpstreamClient(UpstreamConnector connector)
    {
        _connector = connector;
        _default = new HttpMessageInvoker(CreateHandler(connector, tls: null), disposeHandler: true);
        Invoker = new HttpMessageInvoker(new IdleTimeoutHandler(new TlsDispatcher(this)), disposeHandler: true);
    }

    /// <summary>Sends each request through the pool its <see cref="UpstreamTls.OptionKey"/> option selects (the default pool without one).</summary>
    public HttpMessageInvoker Invoker { get; }

    public void Dispose()
    {
        Invoker.Dispose();
        _default.Dispose();
        foreach (var invoker in _byTls.Values)
        {
            invoker.Dispose();
        }
    }

    private HttpMessageInvoker For(UpstreamTls tls)
    {
        if (_byTls.TryGetValue(tls.PoolKey, out var invoker))
        {
            return invoker;
        }

        lock (_create)
        {
            if (!_byTls.TryGetValue(tls.PoolKey, out invoker))
            {
                invoker = new HttpMessageInvoker(CreateHandler(_connector, tls), disposeHandler: true);
                _byTls[tls.PoolKey] = invoker;
            }

            return invoker;
        }
    }

    private static SocketsHttpHandler CreateHandler(UpstreamConnector connector, UpstreamTls? tls)
    {
        var handler = new SocketsHttpHandler
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
        if (tls is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => tls.Validate(certificate, chain, errors);
            handler.SslOptions.ClientCertificateContext = tls.ClientCertificate;
        }

        return handler;
    }

    private sealed class TlsDispatcher(UpstreamClient client) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!request.Options.TryGetValue(UpstreamTls.OptionKey, out var tls))
            {
                return client._default.SendAsync(request, cancellationToken);
            }

            if (tls.Unavailable is { } reason)
            {
                throw new UpstreamTlsUnavailableException($"the upstream TLS settings cannot be used: {reason}");
            }

            return client.For(tls).SendAsync(request, cancellationToken);
        }
    }
}
