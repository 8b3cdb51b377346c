using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The <c>distributed</c> policy (Kong's <c>cluster</c>/<c>redis</c>): decisions are made from memory, and
/// <see cref="SyncAsync"/> (the background loop, every sync interval) exchanges absolute counts with the
/// store. Between syncs this instance may admit only its allowance, a share of the global budget left:
/// <list type="bullet">
/// <item>the share follows this instance's share of the demand (offered requests, rejected ones included,
/// so a starved instance can grow its share), smoothed by a small floor so an idle instance can start;</item>
/// <item>the allowance is published as <see cref="CounterValue.Reserved"/>, and every instance caps its own
/// by the budget minus what the others admitted and reserved, so the sum of the commitments stays within
/// the limit;</item>
/// <item>a sync publishes an allowance computed from the previous view, then reads the others and lowers
/// it if the fresh view asks for that, so of two instances syncing at once the later sees the earlier.</item>
/// </list>
/// Before the first sync of a counter the allowance is the share from the previous window, else
/// limit / live instances. The design and its measured accuracy are in docs/rate-limiting.md.
/// </summary>
internal sealed partial class DistributedRateLimiter(string instanceId, RateLimitStoreGuard guard, TimeProvider time, TimeSpan defaultInterval, ILogger logger)
{
    /// <summary>Demand-share smoothing: share = (demand + floor) / (1 + instances * floor).</summary>
    public const double DemandFloor = 0.02;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly RateLimitStoreGuard _guard = guard;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;
    private readonly SemaphoreSlim _syncing = new(1, 1);
    private volatile int _liveInstances = 1;
    private volatile bool _storeAvailable = true;

    public string InstanceId { get; } = instanceId;

    /// <summary>The sync interval of counters whose plugin leaves <c>sync_rate</c> at -1.</summary>
    public TimeSpan DefaultInterval { get; } = defaultInterval;

    /// <summary>False from a failed store call until the next successful sync or heartbeat.</summary>
    public bool StoreAvailable => _storeAvailable;

    public int LiveInstances => _liveInstances;

    public int KeyCount => _entries.Count;

    /// <summary>The shortest sync interval of the counters held (the loop's tick).</summary>
    public TimeSpan NextTick()
    {
        var tick = DefaultInterval;
        foreach (var (_, entry) in _entries)
        {
            if (entry.Interval < tick)
            {
                tick = entry.Interval;
            }
        }

        return tick;
    }

    public RateLimitOutcome TryAcquire(
        string key,
        ReadOnlySpan<PeriodLimit> limits,
        bool sliding,
        TimeSpan? syncInterval,
        bool faultTolerant,
        DateTimeOffset now,
        Span<PeriodUsage> usage)
    {
        var available = _storeAvailable;
        if (!available && !faultTolerant)
        {
            return RateLimitOutcome.Unavailable;
        }

        while (true)
        {
            var entry = _entries.GetOrAdd(key, static (k, interval) => new Entry(k, interval), syncInterval ?? DefaultInterval);
            lock (entry)
            {
                if (!entry.Removed)
                {
                    return entry.TryAcquire(limits, sliding, available, _liveInstances, now, usage);
                }
            }
        }
    }

    /// <summary>Records this instance as alive and learns how many are (the split before a counter's first sync).</summary>
    public async Task HeartbeatAsync(TimeSpan liveness, CancellationToken cancellationToken)
    {
        try
        {
            _liveInstances = Math.Max(1, await _guard.HeartbeatAsync(InstanceId, liveness, cancellationToken));

            // The store answers again. Without this, an outage seen while no counter was due would never end: a
            // sync with nothing to write makes no store call, and a not fault tolerant plugin refuses its requests
            // (503) before it creates a counter, so no sync would ever try the store again.
            MarkAvailable();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            MarkUnavailable(ex);
        }
    }

    /// <summary>
    /// Writes this instance's counts of the counters due for a sync and reads everyone's. With
    /// <paramref name="flush"/> every counter is written and unspent allowances are released (shutdown).
    /// Never throws for a store fault: the instance carries on from memory and the next sync reconciles.
    /// </summary>
    public async Task SyncAsync(bool flush, CancellationToken cancellationToken)
    {
        await _syncing.WaitAsync(cancellationToken);
        try
        {
            await SyncOnceAsync(flush, cancellationToken);
        }
        finally
        {
            _syncing.Release();
        }
    }

    private async Task SyncOnceAsync(bool flush, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var batch = new List<Pending>();
        var counts = new List<KeyValuePair<CounterId, CounterValue>>();
        foreach (var (_, entry) in _entries)
        {
            lock (entry)
            {
                if (entry.Removed || (!flush && entry.NextSync > now))
                {
                    continue;
                }

                entry.NextSync = now + entry.Interval;
                entry.Snapshot(flush, _liveInstances, now, batch, counts);
            }
        }

        if (counts.Count == 0)
        {
            return;
        }

        IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>> view;
        try
        {
            view = await _guard.SyncAsync(InstanceId, counts, [], cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            foreach (var pending in batch)
            {
                lock (pending.Entry)
                {
                    pending.Entry.Unsynced(pending);
                }
            }

            MarkUnavailable(ex);
            return;
        }

        MarkAvailable();
        now = _time.GetUtcNow();
        foreach (var pending in batch)
        {
            if (pending.Final)
            {
                continue;
            }

            lock (pending.Entry)
            {
                pending.Entry.Synced(pending, view.GetValueOrDefault(pending.Id), InstanceId, _liveInstances, now);
            }
        }
    }

    /// <summary>Drops counters whose windows have ended and whose counts are written.</summary>
    public void Sweep(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            lock (entry)
            {
                if (!entry.Expired(now))
                {
                    continue;
                }

                entry.Removed = true;
            }

            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }
    }

    /// <summary>Deletes the store's expired windows (whole tables in the Table adapter).</summary>
    public async Task DropExpiredAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _guard.DropExpiredAsync(_time.GetUtcNow(), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogDropFailed(_logger, ex);
        }
    }

    private void MarkAvailable()
    {
        if (!_storeAvailable)
        {
            _storeAvailable = true;
            LogStoreRecovered(_logger);
        }
    }

    private void MarkUnavailable(Exception ex)
    {
        if (_storeAvailable)
        {
            _storeAvailable = false;
            LogStoreUnavailable(_logger, ex);
        }
    }

    /// <summary>What one sync wrote for one counter, to apply the answer to.</summary>
    private sealed record Pending(Entry Entry, Slot Slot, CounterId Id, long Admitted, long Offered, long Reserved, bool Final);

    /// <summary>All periods of one key under one lock, so a request is counted in all or none.</summary>
    private sealed class Entry(string key, TimeSpan interval)
    {
        private readonly Slot?[] _slots = new Slot?[6];

        public TimeSpan Interval { get; } = interval;

        public DateTimeOffset NextSync { get; set; }

        public bool Removed { get; set; }

        public RateLimitOutcome TryAcquire(ReadOnlySpan<PeriodLimit> limits, bool sliding, bool storeAvailable, int live, DateTimeOffset now, Span<PeriodUsage> usage)
        {
            var admit = true;
            for (var i = 0; i < limits.Length; i++)
            {
                var (period, limit) = limits[i];
                var slot = _slots[(int)period] ??= new Slot(key, period);
                slot.Configure(limit, sliding);
                slot.Roll(now, live);
                if (slot.Offered == 0)
                {
                    slot.FirstOffered = now;
                }

                slot.Offered++;
                slot.Dirty = true;
                var budget = slot.EffectiveLimit(now);
                var upTo = storeAvailable ? slot.AdmitUpTo : Math.Max(slot.AdmitUpTo, (long)Math.Ceiling(slot.ShareOr(live) * budget));
                var globalCount = slot.OthersAdmitted + slot.Admitted;
                var blocked = slot.Admitted + 1 > upTo || globalCount + 1 > budget;
                admit &= !blocked;
                var retry = blocked
                    ? RateLimitWindow.RetryAfter(period, limit, globalCount, slot.PreviousTotal, sliding, slot.Start, now)
                    : TimeSpan.Zero;
                usage[i] = new(period, limit, blocked ? 0 : Math.Max(0, (long)Math.Floor(budget - globalCount - 1)), slot.End, slot.End - slot.Start, blocked, retry);
            }

            if (!admit)
            {
                PeriodUsage.Uncount(usage);
                return RateLimitOutcome.Rejected;
            }

            for (var i = 0; i < limits.Length; i++)
            {
                _slots[(int)limits[i].Period]!.Admitted++;
            }

            return RateLimitOutcome.Admitted;
        }

        public void Snapshot(bool flush, int live, DateTimeOffset now, List<Pending> batch, List<KeyValuePair<CounterId, CounterValue>> counts)
        {
            foreach (var slot in _slots)
            {
                if (slot is null)
                {
                    continue;
                }

                slot.Roll(now, live);
                if (slot.Final is { } final)
                {
                    // The last counts of a window that ended since the previous sync.
                    counts.Add(new(final.Id, final.Value));
                    batch.Add(new(this, slot, final.Id, final.Value.Admitted, final.Value.Offered, 0, Final: true));
                    slot.Final = null;
                }

                if (slot.Offered == 0 || (!slot.Dirty && slot.PublishedReserve == 0 && slot.Synced))
                {
                    continue;
                }

                if (!flush && !slot.Dirty && slot.Synced)
                {
                    // Idle since the last sync: refresh the view (and shrink the reservation as the others'
                    // demand grows) less and less often, so a quiet key costs little over a long window.
                    if (now < slot.IdleUntil)
                    {
                        continue;
                    }

                    slot.IdleRounds = Math.Min(slot.IdleRounds + 1, 6);
                    slot.IdleUntil = now + (Interval * (1 << slot.IdleRounds));
                }
                else
                {
                    slot.IdleRounds = 0;
                }

                var reserve = flush ? 0 : slot.Allowance(slot.Admitted, slot.Offered, live, Interval, now, fresh: false);
                slot.AdmitUpTo = Math.Min(slot.AdmitUpTo, slot.Admitted + reserve);
                slot.PublishedReserve = reserve;
                slot.Dirty = false;
                var id = new CounterId(slot.Key, slot.Period, slot.Start);
                counts.Add(new(id, new CounterValue(slot.Admitted, slot.Offered, reserve)));
                batch.Add(new(this, slot, id, slot.Admitted, slot.Offered, reserve, Final: false));
            }
        }

        /// <summary>The write failed: what it carried is still to be written.</summary>
        public void Unsynced(Pending pending)
        {
            if (pending.Final)
            {
                pending.Slot.Final ??= (pending.Id, new CounterValue(pending.Admitted, pending.Offered, 0));
            }
            else if (pending.Slot.Start == pending.Id.WindowStart)
            {
                pending.Slot.Dirty = true;
            }
        }

        public void Synced(Pending pending, IReadOnlyDictionary<string, CounterValue>? values, string self, int live, DateTimeOffset now)
        {
            var slot = pending.Slot;
            if (slot.Start != pending.Id.WindowStart)
            {
                return;
            }

            long admitted = 0, reserved = 0, offered = 0;
            var others = 0;
            if (values is not null)
            {
                foreach (var (instance, value) in values)
                {
                    if (instance == self)
                    {
                        continue;
                    }

                    admitted += value.Admitted;
                    reserved += value.Reserved;
                    offered += value.Offered;
                    others++;
                }
            }

            slot.OthersAdmitted = admitted;
            slot.OthersReserved = reserved;
            slot.OthersOffered = offered;
            slot.OthersCount = others;
            slot.Synced = true;
            var fresh = slot.Allowance(pending.Admitted, pending.Offered, live, Interval, now, fresh: true);
            slot.AdmitUpTo = pending.Admitted + Math.Min(pending.Reserved, fresh);
        }

        public bool Expired(DateTimeOffset now)
        {
            foreach (var slot in _slots)
            {
                // A window with counts (or, sliding, a previous window that still weighs) is kept, as are unwritten final counts.
                if (slot is not null && (slot.Final is not null
                    || (now < slot.ExpiresAt && (slot.Offered > 0 || (slot.Sliding && slot.PreviousTotal > 0)))))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>One period of one key: this instance's counts in the current window and its last view of the others.</summary>
    private sealed class Slot(string key, RateLimitPeriod period)
    {
        public string Key { get; } = key;
        public RateLimitPeriod Period { get; } = period;
        public long Limit;
        public bool Sliding;
        public DateTimeOffset Start;
        public DateTimeOffset End;
        public long Admitted;
        public long Offered;
        public long AdmitUpTo;
        public long PublishedReserve;
        public bool Dirty;
        public bool Synced;
        public long OthersAdmitted;
        public long OthersReserved;
        public long OthersOffered;
        public int OthersCount;
        public long PreviousTotal;
        public double Share = -1;
        public int IdleRounds;
        public DateTimeOffset IdleUntil;

        /// <summary>This instance's first request of the current window.</summary>
        public DateTimeOffset FirstOffered;
        public (CounterId Id, CounterValue Value)? Final;

        public DateTimeOffset ExpiresAt => Sliding ? RateLimitWindow.End(Period, End) : End;

        public void Configure(long limit, bool sliding)
        {
            Limit = limit;
            Sliding = sliding;
        }

        public double ShareOr(int live) => Share >= 0 ? Share : 1.0 / Math.Max(1, live);

        /// <summary>The budget of the current window: the limit, less the weighted previous window when sliding.</summary>
        public double EffectiveLimit(DateTimeOffset now) =>
            Sliding ? Limit - (PreviousTotal * RateLimitWindow.PreviousWeight(Start, End, now)) : Limit;

        public void Roll(DateTimeOffset now, int live)
        {
            var start = RateLimitWindow.Start(Period, now);
            if (start <= Start)
            {
                return;
            }

            if (Offered > 0 && (Dirty || PublishedReserve > 0))
            {
                Final = (new CounterId(Key, Period, Start), new CounterValue(Admitted, Offered, 0));
            }

            PreviousTotal = Start != default && End == start ? OthersAdmitted + Admitted : 0;
            Start = start;
            End = RateLimitWindow.End(Period, start);
            Admitted = 0;
            Offered = 0;
            PublishedReserve = 0;
            Dirty = false;
            Synced = false;
            OthersAdmitted = OthersReserved = OthersOffered = 0;
            OthersCount = 0;
            AdmitUpTo = (long)Math.Floor(ShareOr(live) * EffectiveLimit(now));
        }

        /// <summary>
        /// What this instance may admit from its snapshot (<paramref name="admitted"/>, <paramref name="offered"/>)
        /// until its next sync: its demand share of the budget left, capped by the budget less everyone's
        /// commitments. Without a view of this window yet, the allowance it started the window with.
        /// The share is remembered (it is what a store outage and the next window start from) only when computed
        /// from a <paramref name="fresh"/> view: before a sync, this instance's offered count is newer than the
        /// others', so every instance would see its own share grow, and if the sync then fails (an outage starting
        /// mid-window) the shares would sum to far more than 1 and the instances together admit far above the limit.
        /// </summary>
        public long Allowance(long admitted, long offered, int live, TimeSpan interval, DateTimeOffset now, bool fresh)
        {
            if (!Synced)
            {
                return Math.Max(0, AdmitUpTo - admitted);
            }

            var instances = 1 + OthersCount;
            double share;
            if (instances >= live || now >= FirstOffered + (2 * interval))
            {
                var totalOffered = offered + OthersOffered;
                var demand = totalOffered == 0 ? 1.0 / Math.Max(instances, live) : (double)offered / totalOffered;
                share = (demand + DemandFloor) / (1 + (instances * DemandFloor));
            }
            else
            {
                // Live instances without a row of this window have most likely not synced it yet (each writes within an
                // interval of its first request): until they have had two intervals to, keep the share this instance
                // opened the window with. The demand share of a view without them (1.0 when alone) would reserve their
                // part of the budget and block them until the next syncs, under the limit too.
                share = ShareOr(live);
            }

            if (fresh)
            {
                Share = share;
            }

            var pool = EffectiveLimit(now) - admitted - OthersAdmitted;
            var cap = Math.Floor(pool - OthersReserved);
            var allowance = Math.Floor(share * pool);
            if (allowance < 1 && pool >= 1)
            {
                allowance = 1;
            }

            return (long)Math.Clamp(allowance, 0, Math.Max(0, cap));
        }
    }

    [LoggerMessage(EventId = LogEvents.RateLimitStoreUnavailable, Level = LogLevel.Warning,
        Message = "Rate-limit store unavailable; distributed counters continue from memory until it returns")]
    private static partial void LogStoreUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.RateLimitStoreRecovered, Level = LogLevel.Information,
        Message = "Rate-limit store reachable again; distributed counters reconciled")]
    private static partial void LogStoreRecovered(ILogger logger);

    [LoggerMessage(EventId = LogEvents.RateLimitDropFailed, Level = LogLevel.Information,
        Message = "Dropping expired rate-limit windows failed; retried later")]
    private static partial void LogDropFailed(ILogger logger, Exception exception);
}
