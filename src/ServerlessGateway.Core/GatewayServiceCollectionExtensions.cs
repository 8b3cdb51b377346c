using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Runtime;

namespace ServerlessGateway;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Registers the gateway core. <paramref name="allowLoopbackByDefault"/> is the host's default for
    /// <c>Gateway:Upstreams:AllowLoopback</c> (DESIGN.md §5: true on Standalone, false on Functions).
    /// </summary>
    public static IServiceCollection AddServerlessGateway(this IServiceCollection services, IConfiguration configuration, bool allowLoopbackByDefault)
    {
        services.AddOptions<GatewayOptions>()
            .Configure(o => o.Upstreams.AllowLoopback = allowLoopbackByDefault)
            .Bind(configuration.GetSection(GatewayOptions.Section));
        services.AddSingleton(TimeProvider.System);
        services.AddHttpForwarder();
        services.TryAddSingleton<IUpstreamResolver, DnsUpstreamResolver>();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.Upstreams);
        services.AddSingleton<UpstreamConnector>();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<ClientAddressResolver>();
        services.AddSingleton<GatewaySnapshotProvider>();
        services.AddSingleton<DeclarativeConfigLoader>();
        services.AddSingleton(sp => new GatewayPipeline(
            sp.GetRequiredService<GatewaySnapshotProvider>(),
            sp.GetRequiredService<ClientAddressResolver>(),
            sp.GetRequiredService<Yarp.ReverseProxy.Forwarder.IHttpForwarder>(),
            sp.GetRequiredService<UpstreamClient>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<GatewayPipeline>>()));
        return services;
    }
}
