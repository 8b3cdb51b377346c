using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A real Kestrel server on a loopback port with chosen HTTP protocols and, optionally, TLS with a
/// test certificate and a client-certificate requirement: the backends of the protocol tests.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, int port, bool tls)
    {
        _app = app;
        Port = port;
        Scheme = tls ? "https" : "http";
    }

    public int Port { get; }

    public string Scheme { get; }

    public string Url => $"{Scheme}://127.0.0.1:{Port}";

    /// <param name="services">Extra services (e.g. AddGrpc).</param>
    /// <param name="map">The endpoints.</param>
    /// <param name="protocols">Http2 alone means cleartext h2c with prior knowledge, or h2 by ALPN over TLS.</param>
    /// <param name="certificate">The server certificate (with its private key) for TLS; null for cleartext.</param>
    /// <param name="requireClientCertificateFrom">When set, TLS demands a client certificate issued by this CA.</param>
    /// <param name="intermediate">An intermediate CA the server sends with its certificate.</param>
    public static async Task<LoopbackServer> StartAsync(
        Action<IServiceCollection>? services,
        Action<WebApplication> map,
        HttpProtocols protocols = HttpProtocols.Http1,
        X509Certificate2? certificate = null,
        X509Certificate2? requireClientCertificateFrom = null,
        X509Certificate2? intermediate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = protocols;
            if (certificate is not null)
            {
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    if (intermediate is not null)
                    {
                        https.ServerCertificateChain = [intermediate];
                    }

                    if (requireClientCertificateFrom is { } ca)
                    {
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (client, _, _) => TestCertificates.IsIssuedBy(client, ca);
                    }
                });
            }
        }));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Urls.First();
        return new LoopbackServer(app, new Uri(address).Port, certificate is not null);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
