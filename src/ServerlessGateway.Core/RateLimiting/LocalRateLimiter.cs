using System.Collections.Concurrent;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The <c>local</c> policy (and the fallback of the shared ones): exact counts in this process. One
/// process-wide instance (DI singleton), so a config reload does not reset counts; keys carry the plugin
/// id, so two plugins never share a counter. A request is counted in every period only when all of them
/// admit it (Kong does not count rejected requests).
/// </summary>
internal sealed class LocalRateLimiter
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Keys held in memory (tests check idle keys are cleaned up).</summary>
    public int KeyCount => _entries.Count;

    public RateLimitOutcome TryAcquire(string key, ReadOnlySpan<PeriodLimit> limits, bool sliding, DateTimeOffset now, Span<PeriodUsage> usage)
    {
        while (true)
        {
            var entry = _entries.GetOrAdd(key, static _ => new Entry());
            lock (entry)
            {
                // Removed by a sweep between the lookup and the lock: count in the entry that replaces it.
                if (!entry.Removed)
                {
                    return entry.TryAcquire(limits, sliding, now, usage);
                }
            }
        }
    }

    /// <summary>Drops keys whose windows (and, for sliding windows, the window after) have all ended.</summary>
    public void Sweep(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            lock (entry)
            {
                if (now < entry.ExpiresAt)
                {
                    continue;
                }

                entry.Removed = true;
            }

            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }
    }

    private sealed class Entry
    {
        private readonly Window[] _windows = new Window[6];

        public bool Removed { get; set; }

        public DateTimeOffset ExpiresAt { get; private set; }

        public RateLimitOutcome TryAcquire(ReadOnlySpan<PeriodLimit> limits, bool sliding, DateTimeOffset now, Span<PeriodUsage> usage)
        {
            var admit = true;
            for (var i = 0; i < limits.Length; i++)
            {
                var (period, limit) = limits[i];
                ref var window = ref _windows[(int)period];
                window.Roll(period, now);
                var end = RateLimitWindow.End(period, window.Start);
                var weight = sliding ? RateLimitWindow.PreviousWeight(window.Start, end, now) : 0;
                var count = RateLimitWindow.Count(window.Current, window.Previous, weight);
                var blocked = count + 1 > limit;
                admit &= !blocked;
                var retry = blocked ? RateLimitWindow.RetryAfter(period, limit, window.Current, window.Previous, sliding, window.Start, now) : TimeSpan.Zero;
                usage[i] = new(period, limit, blocked ? 0 : (long)Math.Floor(limit - count - 1), end, end - window.Start, blocked, retry);
                var expires = sliding ? RateLimitWindow.End(period, end) : end;
                ExpiresAt = i == 0 || expires > ExpiresAt ? expires : ExpiresAt;
            }

            if (!admit)
            {
                PeriodUsage.Uncount(usage);
                return RateLimitOutcome.Rejected;
            }

            for (var i = 0; i < limits.Length; i++)
            {
                _windows[(int)limits[i].Period].Current++;
            }

            return RateLimitOutcome.Admitted;
        }
    }

    /// <summary>One fixed window's count and the previous window's (for sliding windows).</summary>
    private struct Window
    {
        public DateTimeOffset Start;
        public long Current;
        public long Previous;

        public void Roll(RateLimitPeriod period, DateTimeOffset now)
        {
            var start = RateLimitWindow.Start(period, now);
            if (start <= Start)
            {
                // Same window, or the clock stepped back: keep counting in the later window.
                return;
            }

            // Only the window right before the current one weighs in; anything older is gone.
            Previous = Start != default && RateLimitWindow.End(period, Start) == start ? Current : 0;
            Current = 0;
            Start = start;
        }
    }
}
