using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessGateway.Authentication.Jwks;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Management;
using ServerlessGateway.Plugins;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the gateway core. <paramref name="standaloneHost"/> selects the host's defaults
    /// (DESIGN.md §5): on the Standalone host loopback upstreams are allowed and, without
    /// <c>Gateway:Secrets:Key</c>, a development secrets key is generated; on Functions neither.
    /// Without a storage adapter the registry keeps config in memory (DB-less mode).
    /// </summary>
    public static IServiceCollection AddServerlessGateway(this IServiceCollection services, IConfiguration configuration, bool standaloneHost)
    {
        var allowLoopbackByDefault = standaloneHost;
        services.AddOptions<GatewayOptions>()
            .Configure(o =>
            {
                o.Upstreams.AllowLoopback = allowLoopbackByDefault;
                // On Functions every request is already a request record (and a span) in Application Insights.
                o.AccessLog = standaloneHost;
            })
            .Bind(configuration.GetSection(GatewayOptions.Section));
        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<Observability.GatewayMetrics>();
        services.AddSingleton(sp => new Observability.RequestTelemetry(
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<Observability.GatewayMetrics>(),
            sp.GetRequiredService<IOptions<GatewayOptions>>().Value.AccessLog));
        Observability.GatewayTelemetry.Add(services, configuration,
            configuration.GetSection(GatewayOptions.Section).GetSection("Tracing").Get<Observability.TracingOptions>() ?? new());
        services.AddHttpForwarder();
        services.TryAddSingleton<IUpstreamResolver, DnsUpstreamResolver>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Upstreams);
        services.AddSingleton<UpstreamConnector>();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<Resilience.ResilienceRuntime>();
        services.AddHostedService<Resilience.ActiveHealthChecker>();
        services.AddSingleton<ClientAddressResolver>();
        services.AddSingleton<GatewaySnapshotProvider>();
        services.AddSingleton<DeclarativeConfigLoader>();
        services.TryAddSingleton<IConfigStore, InMemoryConfigStore>();
        services.AddSingleton(sp => new CredentialProtector(
            SecretsKeyLoader.Load(
                sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Secrets.Key,
                allowDevelopmentKey: standaloneHost,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("ServerlessGateway.Secrets")),
            SecretsKeyLoader.LoadPrevious(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Secrets.PreviousKeys)));
        services.AddSingleton(sp => new PluginRuntime(
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<CredentialProtector>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<UpstreamClient>(),
            sp));
        services.AddSingleton(sp => new ConfigRegistry(
            sp.GetRequiredService<IConfigStore>(),
            sp.GetRequiredService<GatewaySnapshotProvider>(),
            sp.GetRequiredService<CredentialProtector>(),
            sp.GetRequiredService<PluginRuntime>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ConfigRegistry>>()));
        services.AddHostedService<ConfigRegistryService>();
        services.AddGatewayRateLimiting();
        services.AddSingleton(sp => new OidcKeyCache(
            sp.GetRequiredService<UpstreamClient>().Invoker,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<OidcKeyCache>>()));
        services.AddSingleton(sp => new AdminAuthenticator(
            sp.GetRequiredService<IOptions<GatewayOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<AdminAuthenticator>>(),
            new AdminTokenAuthenticator(
                sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Admin,
                sp.GetRequiredService<OidcKeyCache>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<AdminAuthenticator>>())));
        services.AddSingleton(sp => new ManagementApi(
            sp.GetRequiredService<ConfigRegistry>(),
            sp.GetRequiredService<AdminAuthenticator>(),
            sp.GetRequiredService<ClientAddressResolver>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Observability.PrometheusScrape>()));
        services.AddSingleton(sp => new GatewayPipeline(
            sp.GetRequiredService<GatewaySnapshotProvider>(),
            sp.GetRequiredService<ClientAddressResolver>(),
            sp.GetRequiredService<Yarp.ReverseProxy.Forwarder.IHttpForwarder>(),
            sp.GetRequiredService<UpstreamClient>(),
            sp.GetRequiredService<PluginRuntime>(),
            sp.GetRequiredService<Observability.RequestTelemetry>(),
            sp.GetRequiredService<Resilience.ResilienceRuntime>(),
            sp.GetRequiredService<ILogger<GatewayPipeline>>()));
        return services;
    }
}
