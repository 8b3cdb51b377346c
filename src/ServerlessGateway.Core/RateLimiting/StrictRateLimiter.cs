using Microsoft.Extensions.Logging;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The <c>strict</c> policy (our extension): per request and period, one conditional increment of a shared
/// row that the store makes only while the count stays within the limit, so the limit is never exceeded.
/// Periods are checked shortest first and the first that refuses stops the request; a period already
/// incremented keeps that count (conservative: it can only make a later request wait, never over-admit).
/// On a store fault or an open breaker (its own, or the background one that heartbeats keep informed) the decision is immediate: with <c>fault_tolerant</c> the request
/// is counted locally against this instance's share of the limit, otherwise it is unavailable (503).
/// </summary>
internal sealed partial class StrictRateLimiter(RateLimitStoreGuard guard, LocalRateLimiter fallback, Func<int> liveInstances, ILogger logger)
{
    private const string FallbackPrefix = "strict-fallback|";

    public async ValueTask<RateLimitOutcome> TryAcquireAsync(
        string key,
        PeriodLimit[] limits,
        bool faultTolerant,
        DateTimeOffset now,
        PeriodUsage[] usage,
        CancellationToken cancellationToken)
    {
        // The background breaker counts the heartbeats (every 5 s) and syncs: it opens on a down store even when
        // strict traffic is too thin to open the strict breaker (10 calls in 10 s), which would otherwise let every
        // strict request wait its timeout for as long as the outage lasts.
        if (guard.StrictBreakerOpen || guard.StoreKnownDown)
        {
            return Fallback(key, limits, faultTolerant, now, usage);
        }

        try
        {
            for (var i = 0; i < limits.Length; i++)
            {
                var (period, limit) = limits[i];
                var id = new CounterId(key, period, RateLimitWindow.Start(period, now));
                var end = id.WindowEnd;
                var result = await guard.TryIncrementAsync(id, limit, cancellationToken);
                if (!result.Admitted)
                {
                    usage[i] = new(period, limit, 0, end, end - id.WindowStart, Blocked: true, end - now);
                    return RateLimitOutcome.Rejected;
                }

                usage[i] = new(period, limit, Math.Max(0, limit - result.Count), end, end - id.WindowStart, Blocked: false, TimeSpan.Zero);
            }

            return RateLimitOutcome.Admitted;
        }
        catch (RateLimitContentionException)
        {
            return RateLimitOutcome.Contention;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return RateLimitOutcome.Cancelled;
        }
        catch (Exception ex)
        {
            LogFallback(logger, faultTolerant, ex);
            return Fallback(key, limits, faultTolerant, now, usage);
        }
    }

    private RateLimitOutcome Fallback(string key, PeriodLimit[] limits, bool faultTolerant, DateTimeOffset now, PeriodUsage[] usage)
    {
        if (!faultTolerant)
        {
            return RateLimitOutcome.Unavailable;
        }

        // This instance's share of each limit, not unlimited: the others take theirs.
        var live = Math.Max(1, liveInstances());
        Span<PeriodLimit> shares = stackalloc PeriodLimit[limits.Length];
        for (var i = 0; i < limits.Length; i++)
        {
            shares[i] = limits[i] with { Limit = Math.Max(1, (limits[i].Limit + live - 1) / live) };
        }

        return fallback.TryAcquire(string.Concat(FallbackPrefix, key), shares, sliding: false, now, usage);
    }

    [LoggerMessage(EventId = LogEvents.RateLimitStrictFallback, Level = LogLevel.Warning,
        Message = "Strict rate-limit store call failed (fault_tolerant {FaultTolerant}): deciding without the store")]
    private static partial void LogFallback(ILogger logger, bool faultTolerant, Exception exception);
}
