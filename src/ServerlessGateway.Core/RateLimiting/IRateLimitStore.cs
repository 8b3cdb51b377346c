namespace ServerlessGateway.RateLimiting;

/// <summary>
/// Port to the store shared by all instances behind the <c>distributed</c> and <c>strict</c> policies
/// (DESIGN.md §4: a row per key per window per instance, in time-bucketed tables). The Table Storage
/// adapter implements it; tests use a hand-written in-memory one. Calls may throw on storage faults:
/// callers bound them with a timeout and a circuit breaker.
/// </summary>
public interface IRateLimitStore
{
    /// <summary>
    /// Writes this instance's absolute values for <paramref name="counts"/> (idempotent: a retry writes the
    /// same row) and returns, for every id in <paramref name="counts"/> and <paramref name="alsoRead"/>,
    /// the value each instance has stored (this one included). Ids nobody has written are absent.
    /// </summary>
    Task<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>> SyncAsync(
        string instanceId,
        IReadOnlyCollection<KeyValuePair<CounterId, CounterValue>> counts,
        IReadOnlyCollection<CounterId> alsoRead,
        CancellationToken cancellationToken);

    /// <summary>
    /// The <c>strict</c> policy: one shared row per counter, incremented by one with a conditional (ETag)
    /// write only when the result stays within <paramref name="limit"/>; retries a bounded number of
    /// times on a conflicting write.
    /// </summary>
    /// <exception cref="RateLimitContentionException">Every retry met a conflicting write.</exception>
    Task<StrictIncrement> TryIncrementAsync(CounterId id, long limit, CancellationToken cancellationToken);

    /// <summary>Records that <paramref name="instanceId"/> is alive; returns how many instances were seen within <paramref name="liveness"/> (at least 1).</summary>
    Task<int> HeartbeatAsync(string instanceId, TimeSpan liveness, CancellationToken cancellationToken);

    /// <summary>Deletes the storage of windows that ended before <paramref name="now"/> (whole tables: Table Storage has no TTL).</summary>
    Task DropExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>Kong's rate-limiting periods; windows are clock-aligned in UTC (months and years by the calendar).</summary>
public enum RateLimitPeriod
{
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

/// <summary>One counter: a limit key (plugin, route, service and identifier) in one window of one period.</summary>
public readonly record struct CounterId(string Key, RateLimitPeriod Period, DateTimeOffset WindowStart)
{
    /// <summary>When the window ends (exclusive).</summary>
    public DateTimeOffset WindowEnd => Period switch
    {
        RateLimitPeriod.Second => WindowStart.AddSeconds(1),
        RateLimitPeriod.Minute => WindowStart.AddMinutes(1),
        RateLimitPeriod.Hour => WindowStart.AddHours(1),
        RateLimitPeriod.Day => WindowStart.AddDays(1),
        RateLimitPeriod.Month => WindowStart.AddMonths(1),
        _ => WindowStart.AddYears(1),
    };
}

/// <summary>
/// One instance's numbers for one counter: requests it admitted, requests offered to it (admitted or
/// not: its demand, which sets its share of the budget), and the allowance it holds but has not used yet.
/// </summary>
public readonly record struct CounterValue(long Admitted, long Offered, long Reserved);

/// <summary>Outcome of a strict increment: admitted (and the count after it) or not (and the count that stopped it).</summary>
public readonly record struct StrictIncrement(bool Admitted, long Count);

/// <summary>A strict increment lost every retry to concurrent writers.</summary>
public sealed class RateLimitContentionException(string message) : Exception(message);
