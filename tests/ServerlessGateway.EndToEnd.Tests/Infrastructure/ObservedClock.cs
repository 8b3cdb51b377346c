using Microsoft.Extensions.Time.Testing;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One gateway's view of a <see cref="FakeTimeProvider"/> shared by several gateways, which tells when that
/// gateway's rate-limit loop is parked: its loop waits with one-shot <c>Task.Delay(tick, time)</c> timers, so
/// "a one-shot timer of exactly <paramref name="loopTick"/> is pending" means the loop finished its iteration
/// (syncs, heartbeats, real storage I/O) and sleeps until the clock reaches its next tick. Other timers (Polly
/// timeouts, the registry's periodic poll) pass through untracked, except one-shot delays shorter than
/// <see cref="RealTimeBelow"/> (the strict counter's backoff between conflicting writes, 1-64 ms): the test does
/// not advance the clock while it waits for a request, so these elapse in real time (in the fake time of the
/// step, they take none).
/// </summary>
internal sealed class ObservedClock(FakeTimeProvider inner, TimeSpan loopTick) : TimeProvider
{
    public static readonly TimeSpan RealTimeBelow = TimeSpan.FromMilliseconds(100);

    private int _parked;

    /// <summary>True while a loop timer is pending (the loop is idle until the clock reaches it).</summary>
    public bool LoopParked => Volatile.Read(ref _parked) > 0;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (period == Timeout.InfiniteTimeSpan && dueTime > TimeSpan.Zero && dueTime < RealTimeBelow)
        {
            return System.CreateTimer(callback, state, dueTime, period);
        }

        if (dueTime != loopTick || period != Timeout.InfiniteTimeSpan)
        {
            return inner.CreateTimer(callback, state, dueTime, period);
        }

        var timer = new LoopTimer(this, callback, state);
        Interlocked.Increment(ref _parked);
        timer.Inner = inner.CreateTimer(static s => ((LoopTimer)s!).Fire(), timer, dueTime, period);
        return timer;
    }

    private sealed class LoopTimer(ObservedClock owner, TimerCallback callback, object? state) : ITimer
    {
        private int _pending = 1;

        public ITimer Inner { get; set; } = null!;

        public void Fire()
        {
            Release();
            callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period) => Inner.Change(dueTime, period);

        public void Dispose()
        {
            Release();
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _pending, 0) == 1)
            {
                Interlocked.Decrement(ref owner._parked);
            }
        }
    }
}
