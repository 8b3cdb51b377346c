using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;
using Xunit.Abstractions;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>
/// The distributed policy's accuracy, proven deterministically: three limiter instances with separate
/// state share one in-memory store, time is stepped with a fake clock, each instance syncs every second
/// at its own phase, and offered load (even, or 90/5/5 skewed) exceeds the limit. Every window must admit
/// between 98% and 102% of the limit (DESIGN.md §6).
/// </summary>
public sealed class DistributedSimulationTests(ITestOutputHelper output)
{
    private const long Limit = 1000;
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(1);
    private static readonly DateTimeOffset Epoch = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, double[], double> Scenarios => new()
    {
        { "even 1.5x", [1 / 3.0, 1 / 3.0, 1 / 3.0], 1.5 },
        { "even 3x", [1 / 3.0, 1 / 3.0, 1 / 3.0], 3.0 },
        { "skewed 90/5/5 1.5x", [0.90, 0.05, 0.05], 1.5 },
        { "skewed 90/5/5 2x", [0.90, 0.05, 0.05], 2.0 },
        { "skewed 90/5/5 3x", [0.90, 0.05, 0.05], 3.0 },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Scenarios))]
    public async Task Every_window_admits_between_98_and_102_percent_of_the_limit(string scenario, double[] split, double load)
    {
        // Arrange
        var simulation = new Simulation(_ => split, load);

        // Act
        var result = await simulation.RunAsync(windows: 5);
        var min = result.Min() * 100.0 / Limit;
        var max = result.Max() * 100.0 / Limit;
        output.WriteLine($"{scenario}: admitted per window {string.Join(", ", result)}; min {min:F1}%, max {max:F1}%");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }

    [Fact(Timeout = 60_000)]
    public async Task Bounds_hold_when_the_hot_instance_changes_every_window()
    {
        // Arrange: the 90% moves from instance 0 to 1 to 2 and back, at each window boundary.
        var simulation = new Simulation(window => (window % 3) switch
        {
            0 => new[] { 0.90, 0.05, 0.05 },
            1 => new[] { 0.05, 0.90, 0.05 },
            _ => new[] { 0.05, 0.05, 0.90 },
        }, load: 2.0);

        // Act
        var result = await simulation.RunAsync(windows: 6);
        output.WriteLine($"moving skew 2x: {string.Join(", ", result)}");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_syncs_skewed_load_gets_far_less_than_the_limit_so_the_simulation_can_fail()
    {
        // Arrange: the control: no sync, so each instance keeps limit / 3 and the hot one starves.
        var simulation = new Simulation(_ => [0.90, 0.05, 0.05], load: 3.0) { Sync = false };

        // Act
        var result = await simulation.RunAsync(windows: 2);
        output.WriteLine($"no sync, skewed 3x: {string.Join(", ", result)}");

        // Assert: 333 (hot instance) + 150 + 150 per window, far under the 98% the synced limiter reaches.
        Assert.All(result, admitted => Assert.InRange(admitted, 600, 700));
        Assert.Equal(0, simulation.StoreCalls);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_store_outage_keeps_each_instance_to_its_share_and_the_next_sync_reconciles()
    {
        // Arrange: skewed 2x load; the store is down for all of windows 1 and 2.
        var simulation = new Simulation(_ => [0.90, 0.05, 0.05], load: 2.0) { StoreDown = window => window is 1 or 2 };

        // Act
        var result = await simulation.RunAsync(windows: 5);
        output.WriteLine($"outage in windows 1-2, skewed 2x: {string.Join(", ", result)}");

        // Assert: never above the limit; outside the outage as accurate as ever; during it, each instance keeps to its last share.
        Assert.All(result, admitted => Assert.InRange(admitted, 0, Limit * 102 / 100));
        Assert.All(new[] { result[0], result[3], result[4] }, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
        Assert.All(new[] { result[1], result[2] }, admitted => Assert.InRange(admitted, Limit * 90 / 100, Limit * 102 / 100));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 3.0)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 3.0)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 1.5)]
    public async Task Bounds_hold_when_store_answers_take_400ms_and_syncs_overlap(double[] split, double load)
    {
        // Arrange
        var simulation = new Simulation(_ => split, load) { Latency = TimeSpan.FromMilliseconds(400) };

        // Act
        var result = await simulation.RunAsync(windows: 5);
        output.WriteLine($"400 ms store latency, {string.Join("/", split.Select(x => x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} {load}x: {string.Join(", ", result)}");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }

    /// <summary>
    /// Three (or more) instances stepping through time: each step offers load to each instance by its
    /// split, and each instance syncs every second at its own phase (0, 1/3 s, 2/3 s).
    /// </summary>
    private sealed class Simulation(Func<int, double[]> split, double load)
    {
        public bool Sync { get; init; } = true;

        public Func<int, bool> StoreDown { get; init; } = _ => false;

        public TimeSpan Latency { get; init; }

        public int StoreCalls { get; private set; }

        /// <summary>Runs one-minute windows; returns the admitted count of each.</summary>
        /// <remarks>
        /// Off the test's synchronization context, so a delayed store answer continues inline when the fake
        /// clock passes its time, as a real answer would arrive while traffic goes on.
        /// </remarks>
        public Task<long[]> RunAsync(int windows) => Task.Run(() => RunCoreAsync(windows));

        private async Task<long[]> RunCoreAsync(int windows)
        {
            var time = new FakeTimeProvider(Epoch);
            var store = new InMemoryRateLimitStore(time);
            var syncs = new Task[split(0).Length];
            var count = split(0).Length;
            var instances = new DistributedRateLimiter[count];
            var nextSync = new DateTimeOffset[count];
            var timeouts = new RateLimitStoreTimeouts(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1));
            for (var i = 0; i < count; i++)
            {
                instances[i] = new DistributedRateLimiter($"instance-{i}", new RateLimitStoreGuard(store, time, timeouts), time, SyncInterval, NullLogger.Instance);
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

            var callsBefore = store.Calls;
            store.Latency = Latency;
            Array.Fill(syncs, Task.CompletedTask);
            PeriodLimit[] limits = [new(RateLimitPeriod.Minute, Limit)];
            var usage = new PeriodUsage[1];
            var perStep = load * Limit / 60.0 * Step.TotalSeconds;
            var owed = new double[count];
            var admitted = new long[windows];
            var end = Epoch.AddMinutes(windows);
            while (time.GetUtcNow() < end)
            {
                var now = time.GetUtcNow();
                var window = (int)((now - Epoch).Ticks / TimeSpan.TicksPerMinute);
                var shares = split(window);
                store.Failing = StoreDown(window);
                for (var i = 0; i < count; i++)
                {
                    owed[i] += perStep * shares[i];
                    while (owed[i] >= 1)
                    {
                        owed[i] -= 1;
                        if (instances[i].TryAcquire("key", limits, sliding: false, syncInterval: null, faultTolerant: true, now, usage) == RateLimitOutcome.Admitted)
                        {
                            admitted[window]++;
                        }
                    }

                    if (Sync && now >= nextSync[i] && syncs[i].IsCompleted)
                    {
                        // Not awaited: with latency the answer arrives while time (and traffic) goes on.
                        await syncs[i];
                        nextSync[i] += SyncInterval;
                        syncs[i] = instances[i].SyncAsync(flush: false, CancellationToken.None);
                    }
                }

                time.Advance(Step);
            }

            store.Latency = TimeSpan.Zero;
            time.Advance(Latency);
            await Task.WhenAll(syncs);
            StoreCalls = store.Calls - callsBefore;
            return admitted;
        }
    }
}
