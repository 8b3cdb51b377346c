using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The background side of rate limiting: syncs distributed counters every tick, heartbeats (live
/// instance count), drops expired store windows, cleans idle keys from memory, and on shutdown flushes
/// the counts not yet written (releasing unspent allowances). Every failure is logged and retried on the
/// next tick; nothing here can fault the host or leave an unobserved task exception.
/// </summary>
internal sealed partial class RateLimitSyncService(RateLimitCounters counters) : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan SweepEvery = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DropEvery = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = RunAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop;
        if (counters.Distributed is { } distributed)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(FlushTimeout);
            try
            {
                await distributed.SyncAsync(flush: true, timeout.Token);
            }
            catch (OperationCanceledException ex)
            {
                LogFlushFailed(counters.Logger, ex);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopping.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var time = counters.Time;
        var distributed = counters.Distributed;
        var nextHeartbeat = time.GetUtcNow();
        var nextSweep = nextHeartbeat + SweepEvery;
        var nextDrop = nextHeartbeat + DropEvery;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                if (distributed is not null)
                {
                    if (now >= nextHeartbeat)
                    {
                        nextHeartbeat = now + HeartbeatEvery;
                        await distributed.HeartbeatAsync(Liveness, stopping);
                    }

                    await distributed.SyncAsync(flush: false, stopping);
                    if (now >= nextDrop)
                    {
                        nextDrop = now + DropEvery;
                        await distributed.DropExpiredAsync(stopping);
                    }
                }

                if (now >= nextSweep)
                {
                    nextSweep = now + SweepEvery;
                    counters.Local.Sweep(now);
                    distributed?.Sweep(now);
                }

                await Task.Delay(distributed?.NextTick() ?? SweepEvery, time, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A bug, not a store fault (those are handled inside): log, pause, carry on.
                LogLoopFailed(counters.Logger, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.RateLimitFlushFailed, Level = LogLevel.Warning,
        Message = "Flushing rate-limit counts on shutdown did not finish in time")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.RateLimitLoopFailed, Level = LogLevel.Error,
        Message = "Rate-limit background loop failed; retrying")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
