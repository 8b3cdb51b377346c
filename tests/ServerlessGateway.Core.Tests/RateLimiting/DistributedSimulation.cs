using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>
/// Three (or more) distributed limiters stepping through time: each step offers load to each instance by its
/// split, and each instance syncs every second at its own phase (0, 1/3 s, 2/3 s). <c>store</c> runs it
/// against another <see cref="IRateLimitStore"/> (the Table adapter on Azurite), each sync then completing
/// before the clock moves on; the fault and latency switches act on the in-memory store only.
/// </summary>
internal sealed class DistributedSimulation(Func<int, double[]> split, double load, Func<TimeProvider, IRateLimitStore>? store = null)
{
    public const long Limit = 1000;
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(1);
    private static readonly DateTimeOffset Epoch = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    public bool Sync { get; init; } = true;

    public Func<int, bool> StoreDown { get; init; } = _ => false;

    /// <summary>Also down from this time after the start of window 0 until <see cref="OutageUntil"/> (an outage that starts or ends mid-window).</summary>
    public TimeSpan OutageFrom { get; init; } = TimeSpan.MaxValue;

    public TimeSpan OutageUntil { get; init; } = TimeSpan.MaxValue;

    public TimeSpan Latency { get; init; }

    /// <summary>Sliding windows (<c>window_type: sliding</c>) instead of fixed ones.</summary>
    public bool Sliding { get; init; }

    /// <summary>With <see cref="Sliding"/>: the highest weighted count (current + previous x (1 - elapsed)) seen at any step.</summary>
    public double MaxSlidingCount { get; private set; }

    public int StoreCalls { get; private set; }

    /// <summary>Requests rejected in each window (after <see cref="RunAsync"/>).</summary>
    public long[] Rejected { get; private set; } = [];

    /// <summary>Runs one-minute windows; returns the admitted count of each.</summary>
    /// <remarks>
    /// Off the test's synchronization context, so a delayed store answer continues inline when the fake
    /// clock passes its time, as a real answer would arrive while traffic goes on.
    /// </remarks>
    public Task<long[]> RunAsync(int windows) => Task.Run(() => RunCoreAsync(windows));

    private async Task<long[]> RunCoreAsync(int windows)
    {
        var time = new FakeTimeProvider(Epoch);
        var memory = new InMemoryRateLimitStore(time);
        var shared = store?.Invoke(time) ?? memory;
        var syncs = new Task[split(0).Length];
        var count = split(0).Length;
        var instances = new DistributedRateLimiter[count];
        var nextSync = new DateTimeOffset[count];
        var timeouts = new RateLimitStoreTimeouts(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1));
        for (var i = 0; i < count; i++)
        {
            instances[i] = new DistributedRateLimiter($"instance-{i}", new RateLimitStoreGuard(shared, time, timeouts), time, SyncInterval, NullLogger.Instance);
            nextSync[i] = Epoch + (SyncInterval * i / count);
        }

        // Twice, so the first instance also learns of the later ones (as its next heartbeat would).
        for (var round = 0; round < 2; round++)
        {
            foreach (var instance in instances)
            {
                await instance.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
            }
        }

        var callsBefore = memory.Calls;
        memory.Latency = Latency;
        Array.Fill(syncs, Task.CompletedTask);
        PeriodLimit[] limits = [new(RateLimitPeriod.Minute, Limit)];
        var usage = new PeriodUsage[1];
        var perStep = load * Limit / 60.0 * Step.TotalSeconds;
        var owed = new double[count];
        var admitted = new long[windows];
        var rejected = new long[windows];
        var end = Epoch.AddMinutes(windows);
        while (time.GetUtcNow() < end)
        {
            var now = time.GetUtcNow();
            var window = (int)((now - Epoch).Ticks / TimeSpan.TicksPerMinute);
            var shares = split(window);
            memory.Failing = StoreDown(window) || (now - Epoch >= OutageFrom && now - Epoch < OutageUntil);
            for (var i = 0; i < count; i++)
            {
                owed[i] += perStep * shares[i];
                while (owed[i] >= 1)
                {
                    owed[i] -= 1;
                    if (instances[i].TryAcquire("key", limits, Sliding, syncInterval: null, faultTolerant: true, now, usage) == RateLimitOutcome.Admitted)
                    {
                        admitted[window]++;
                    }
                    else
                    {
                        rejected[window]++;
                    }
                }

                if (Sync && now >= nextSync[i] && syncs[i].IsCompleted)
                {
                    // Not awaited: with latency the answer arrives while time (and traffic) goes on.
                    await syncs[i];
                    nextSync[i] += SyncInterval;
                    syncs[i] = instances[i].SyncAsync(flush: false, CancellationToken.None);
                    if (store is not null)
                    {
                        // A real store answers in real time, while the fake clock would run on by thousands of steps
                        // (and past the guard's timeout): the answer is taken before the next step, a sync costs no fake time.
                        await syncs[i];
                    }
                }
            }

                if (Sliding && window > 0)
            {
                var elapsed = (double)(now - Epoch.AddMinutes(window)).Ticks / TimeSpan.TicksPerMinute;
                MaxSlidingCount = Math.Max(MaxSlidingCount, admitted[window] + (admitted[window - 1] * (1 - elapsed)));
            }

            time.Advance(Step);
        }

        memory.Latency = TimeSpan.Zero;
        time.Advance(Latency);
        await Task.WhenAll(syncs);
        StoreCalls = memory.Calls - callsBefore;
        Rejected = rejected;
        return admitted;
    }
}
