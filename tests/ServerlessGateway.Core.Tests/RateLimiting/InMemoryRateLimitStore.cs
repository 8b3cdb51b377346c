using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>
/// A hand-written <see cref="IRateLimitStore"/>: linearizable (one lock), with switches to fail, hang
/// or lose every strict retry, and call counts to assert on. Shared by simulated instances.
/// </summary>
internal sealed class InMemoryRateLimitStore : IRateLimitStore
{
    private readonly object _gate = new();
    private readonly Dictionary<CounterId, Dictionary<string, CounterValue>> _rows = [];
    private readonly Dictionary<CounterId, long> _strict = [];
    private readonly Dictionary<string, DateTimeOffset> _heartbeats = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public InMemoryRateLimitStore(TimeProvider time) => _time = time;

    /// <summary>Every call throws (the store is down).</summary>
    public bool Failing { get; set; }

    /// <summary>Every call waits until cancelled (the store hangs).</summary>
    public bool Hanging { get; set; }

    /// <summary>Strict increments lose every retry.</summary>
    public bool Contended { get; set; }

    /// <summary>Answers arrive this long (on the fake clock) after the store applied the call: syncs of several instances overlap.</summary>
    public TimeSpan Latency { get; set; }

    public int Calls { get; private set; }

    public int SyncCalls { get; private set; }

    public Task<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>> SyncAsync(
        string instanceId,
        IReadOnlyCollection<KeyValuePair<CounterId, CounterValue>> counts,
        IReadOnlyCollection<CounterId> alsoRead,
        CancellationToken cancellationToken) =>
        Run(cancellationToken, () =>
        {
            SyncCalls++;
            var result = new Dictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>();
            foreach (var (id, value) in counts)
            {
                if (!_rows.TryGetValue(id, out var row))
                {
                    _rows[id] = row = new Dictionary<string, CounterValue>(StringComparer.Ordinal);
                }

                row[instanceId] = value;
            }

            foreach (var id in counts.Select(c => c.Key).Concat(alsoRead))
            {
                if (_rows.TryGetValue(id, out var row))
                {
                    result[id] = new Dictionary<string, CounterValue>(row, StringComparer.Ordinal);
                }
            }

            return (IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>)result;
        });

    public Task<StrictIncrement> TryIncrementAsync(CounterId id, long limit, CancellationToken cancellationToken) =>
        Run(cancellationToken, () =>
        {
            if (Contended)
            {
                throw new RateLimitContentionException("every retry met a conflicting write");
            }

            var count = _strict.GetValueOrDefault(id);
            if (count + 1 > limit)
            {
                return new StrictIncrement(false, count);
            }

            _strict[id] = count + 1;
            return new StrictIncrement(true, count + 1);
        });

    public Task<int> HeartbeatAsync(string instanceId, TimeSpan liveness, CancellationToken cancellationToken) =>
        Run(cancellationToken, () =>
        {
            var now = _time.GetUtcNow();
            _heartbeats[instanceId] = now;
            return _heartbeats.Values.Count(seen => now - seen <= liveness);
        });

    public Task DropExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        Run(cancellationToken, () =>
        {
            foreach (var id in _rows.Keys.Where(id => id.WindowEnd <= now).ToList())
            {
                _rows.Remove(id);
            }

            return 0;
        });

    /// <summary>The sum of every instance's admitted count for <paramref name="id"/>.</summary>
    public long AdmittedTotal(CounterId id)
    {
        lock (_gate)
        {
            return _rows.TryGetValue(id, out var row) ? row.Values.Sum(v => v.Admitted) : 0;
        }
    }

    public CounterValue? Row(CounterId id, string instanceId)
    {
        lock (_gate)
        {
            return _rows.TryGetValue(id, out var row) && row.TryGetValue(instanceId, out var value) ? value : null;
        }
    }

    public long StrictCountWhere(Func<CounterId, bool> predicate)
    {
        lock (_gate)
        {
            return _strict.Where(e => predicate(e.Key)).Sum(e => e.Value);
        }
    }

    private async Task<T> Run<T>(CancellationToken cancellationToken, Func<T> action)
    {
        lock (_gate)
        {
            Calls++;
        }

        if (Hanging)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (Failing)
        {
            throw new InvalidOperationException("the store is down");
        }

        T result;
        lock (_gate)
        {
            result = action();
        }

        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, _time, cancellationToken);
        }

        return result;
    }
}
