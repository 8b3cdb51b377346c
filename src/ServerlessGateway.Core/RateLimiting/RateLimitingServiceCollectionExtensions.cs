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
            CounterRowOwner(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.ResolveInstanceId()),
            sp.GetService<IRateLimitStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<GatewayMetrics>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => new RateLimitSyncService(sp.GetRequiredService<RateLimitCounters>()));
        return services;
    }

    /// <summary>
    /// Whose counter rows this process writes: the instance id plus this process's incarnation. Rows hold
    /// absolute counts, so a process restarted on the same instance (Azure keeps <c>WEBSITE_INSTANCE_ID</c>)
    /// must not overwrite the counts its predecessor already admitted in the current window: it writes its
    /// own rows beside them, and the sum on read keeps both.
    /// </summary>
    internal static string CounterRowOwner(string instanceId) =>
        string.Concat(instanceId, ".", Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)));
}
