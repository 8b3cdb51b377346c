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

    private TestGateway(WebApplication app, string? configFile, Uri baseAddress)
    {
        _app = app;
        _configFile = configFile;
        BaseAddress = baseAddress;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TestGateway> StartAsync(
        string? yaml,
        Action<IServiceCollection>? services = null,
        IDictionary<string, string?>? settings = null)
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
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestGateway(app, file, new Uri(address));
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
