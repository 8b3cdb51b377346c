using Polly;
using Polly.CircuitBreaker;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// Every call to the rate-limit store goes through here: a short timeout inside a circuit breaker
/// (Polly v8), one pipeline for the background sync and one for the per-request strict increments.
/// While a breaker is open, calls fail at once, so a strict decision does not wait on a store that is down.
/// A strict contention (every conditional-write retry lost) is an answer, not a store fault.
/// </summary>
internal sealed class RateLimitStoreGuard
{
    private readonly IRateLimitStore _store;
    private readonly ResiliencePipeline _background;
    private readonly ResiliencePipeline _strict;
    private readonly CircuitBreakerStateProvider _strictState = new();
    private readonly CircuitBreakerStateProvider _backgroundState = new();

    public RateLimitStoreGuard(IRateLimitStore store, TimeProvider time, RateLimitStoreTimeouts timeouts)
    {
        _store = store;
        _background = Build(time, timeouts.Sync, minimumThroughput: 2, _backgroundState);
        _strict = Build(time, timeouts.Strict, minimumThroughput: 10, _strictState);
    }

    /// <summary>True while strict calls are refused without trying (open or isolated breaker).</summary>
    public bool StrictBreakerOpen => _strictState.CircuitState is CircuitState.Open or CircuitState.Isolated;

    public bool BackgroundBreakerOpen => _backgroundState.CircuitState is CircuitState.Open or CircuitState.Isolated;

    /// <summary>
    /// True unless the background breaker is closed: heartbeats and syncs found the store down, and while one of
    /// them tries it again (half-open) it is not known to be back yet.
    /// </summary>
    public bool StoreKnownDown => _backgroundState.CircuitState is not CircuitState.Closed;

    public ValueTask<StrictIncrement> TryIncrementAsync(CounterId id, long limit, CancellationToken cancellationToken) =>
        _strict.ExecuteAsync(
            static (state, ct) => new ValueTask<StrictIncrement>(state.Store.TryIncrementAsync(state.Id, state.Limit, ct)),
            (Store: _store, Id: id, Limit: limit),
            cancellationToken);

    public ValueTask<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>> SyncAsync(
        string instanceId,
        IReadOnlyCollection<KeyValuePair<CounterId, CounterValue>> counts,
        IReadOnlyCollection<CounterId> alsoRead,
        CancellationToken cancellationToken) =>
        _background.ExecuteAsync(
            static (state, ct) => new ValueTask<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>>(
                state.Store.SyncAsync(state.InstanceId, state.Counts, state.AlsoRead, ct)),
            (Store: _store, InstanceId: instanceId, Counts: counts, AlsoRead: alsoRead),
            cancellationToken);

    public ValueTask<int> HeartbeatAsync(string instanceId, TimeSpan liveness, CancellationToken cancellationToken) =>
        _background.ExecuteAsync(
            static (state, ct) => new ValueTask<int>(state.Store.HeartbeatAsync(state.InstanceId, state.Liveness, ct)),
            (Store: _store, InstanceId: instanceId, Liveness: liveness),
            cancellationToken);

    public ValueTask DropExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _background.ExecuteAsync(
            static (state, ct) => new ValueTask(state.Store.DropExpiredAsync(state.Now, ct)),
            (Store: _store, Now: now),
            cancellationToken);

    private static ResiliencePipeline Build(TimeProvider time, TimeSpan timeout, int minimumThroughput, CircuitBreakerStateProvider state) =>
        new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = minimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = TimeSpan.FromSeconds(5),
                StateProvider = state,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not RateLimitContentionException and not OperationCanceledException),
            })
            .AddTimeout(timeout)
            .Build();
}

/// <summary>Per-call timeouts of the store: a background sync may take longer than a per-request strict increment.</summary>
internal sealed record RateLimitStoreTimeouts(TimeSpan Sync, TimeSpan Strict)
{
    public static readonly RateLimitStoreTimeouts Default = new(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(500));
}
