using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessGateway.Observability;

namespace ServerlessGateway.RateLimiting;

internal static class RateLimitingServiceCollectionExtensions
{
    /// <summary>
    /// The process-wide counters and their background loop. The store is optional: a storage adapter
    /// registers <see cref="IRateLimitStore"/>; without one, shared policies count locally (logged).
    /// </summary>
    public static IServiceCollection AddGatewayRateLimiting(this IServiceCollection services)
    {
        services.AddSingleton(sp => new RateLimitCounters(
            sp.GetRequiredService<IOptions<GatewayOptions>>().Value.ResolveInstanceId(),
            sp.GetService<IRateLimitStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<GatewayMetrics>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => new RateLimitSyncService(sp.GetRequiredService<RateLimitCounters>()));
        return services;
    }
}
