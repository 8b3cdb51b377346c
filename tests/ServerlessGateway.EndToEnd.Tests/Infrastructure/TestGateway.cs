using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Standalone;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>The Standalone host in-process on a loopback port, configured from a Kong declarative file (DB-less).</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string? _configFile;

    private TestGateway(WebApplication app, string? configFile, Uri baseAddress, Uri? h2cAddress = null)
    {
        _app = app;
        _configFile = configFile;
        BaseAddress = baseAddress;
        H2cAddress = h2cAddress;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public Uri BaseAddress { get; }

    /// <summary>The cleartext HTTP/2-only (h2c prior knowledge) endpoint, when started with one.</summary>
    public Uri? H2cAddress { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TestGateway> StartAsync(
        string? yaml,
        Action<IServiceCollection>? services = null,
        IDictionary<string, string?>? settings = null,
        bool h2cEndpoint = false)
    {
        string? file = null;
        if (yaml is not null)
        {
            file = Path.Combine(Path.GetTempPath(), $"sg-e2e-{Guid.NewGuid():N}.yaml");
            await File.WriteAllTextAsync(file, yaml);
        }

        var values = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        if (file is not null)
        {
            values["Gateway:ConfigFile"] = file;
        }

        if (h2cEndpoint)
        {
            // docs/protocols.md: Kestrel cannot serve HTTP/1.1 and h2c on one cleartext port, so gRPC
            // clients get an Http2-only endpoint beside the HTTP/1.1 one (Kong's "http2" proxy_listen).
            values["Kestrel:Endpoints:Grpc:Url"] = "http://127.0.0.1:0";
            values["Kestrel:Endpoints:Grpc:Protocols"] = "Http2";
            values["Kestrel:Endpoints:Http:Url"] = "http://127.0.0.1:0";
        }

        // As command-line settings, so they are there while the host registers its services.
        string[] args = ["--urls", "http://127.0.0.1:0", .. values.Select(v => $"--{v.Key}={v.Value}")];
        var builder = StandaloneGateway.CreateBuilder(args);
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        var (app, config) = StandaloneGateway.Build(builder);
        if (app is null)
        {
            throw new InvalidOperationException("invalid config: " + string.Join("; ", config!.Errors));
        }

        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        // Kestrel binds configured endpoints in key order: Grpc, then Http.
        return h2cEndpoint
            ? new TestGateway(app, file, new Uri(addresses[1]), new Uri(addresses[0]))
            : new TestGateway(app, file, new Uri(addresses[0]));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_configFile is not null)
        {
            File.Delete(_configFile);
        }
    }
}
