using Microsoft.Extensions.Logging;
using ServerlessGateway.Observability;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The process-wide rate-limit state (a DI singleton, not part of a config snapshot: a reload keeps every
/// count). <see cref="Distributed"/> and <see cref="Strict"/> are null without a registered
/// <see cref="IRateLimitStore"/> (DB-less mode); plugins asking for them then count locally.
/// </summary>
internal sealed class RateLimitCounters
{
    public RateLimitCounters(
        string instanceId,
        IRateLimitStore? store,
        TimeProvider time,
        GatewayMetrics metrics,
        ILoggerFactory loggers,
        RateLimitStoreTimeouts? timeouts = null,
        TimeSpan? defaultSyncInterval = null)
    {
        InstanceId = instanceId;
        Time = time;
        Metrics = metrics;
        Logger = loggers.CreateLogger("ServerlessGateway.RateLimiting");
        Local = new LocalRateLimiter();
        if (store is not null)
        {
            var guard = new RateLimitStoreGuard(store, time, timeouts ?? RateLimitStoreTimeouts.Default);
            Distributed = new DistributedRateLimiter(instanceId, guard, time, defaultSyncInterval ?? DefaultSyncInterval, Logger);
            Strict = new StrictRateLimiter(guard, Local, () => Distributed.LiveInstances, Logger);
        }
    }

    /// <summary>How often distributed counters sync when <c>sync_rate</c> is -1 (Kong's default).</summary>
    public static readonly TimeSpan DefaultSyncInterval = TimeSpan.FromSeconds(1);

    public string InstanceId { get; }

    public TimeProvider Time { get; }

    public GatewayMetrics Metrics { get; }

    public ILogger Logger { get; }

    public LocalRateLimiter Local { get; }

    public DistributedRateLimiter? Distributed { get; }

    public StrictRateLimiter? Strict { get; }

    public bool HasStore => Distributed is not null;
}
