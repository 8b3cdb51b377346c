using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;
using ServerlessGateway.Tests.RateLimiting;
using Xunit.Abstractions;

namespace ServerlessGateway.Storage.Tables.Tests;

/// <summary>
/// The distributed limiter's simulation (three instances, a fake clock in 10 ms steps, syncs every second at
/// phases 0, 1/3 and 2/3 s; see Core.Tests' <c>DistributedSimulationTests</c>) against the real
/// <see cref="TableRateLimitStore"/> on Azurite instead of the in-memory store: the adapter's rows, batching,
/// partition reads and instance ids must give the limiter the same view. Two windows per scenario (not five) to
/// keep the real store I/O short.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class DistributedSimulationOnTablesTests(AzuriteServer azurite, ITestOutputHelper output)
{
    private const long Limit = DistributedSimulation.Limit;

    public static TheoryData<string, double[], double> Scenarios => new()
    {
        { "even 1.5x", [1 / 3.0, 1 / 3.0, 1 / 3.0], 1.5 },
        { "even 3x", [1 / 3.0, 1 / 3.0, 1 / 3.0], 3.0 },
        { "skewed 90/5/5 1.5x", [0.90, 0.05, 0.05], 1.5 },
        { "skewed 90/5/5 3x", [0.90, 0.05, 0.05], 3.0 },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Scenarios))]
    public async Task Every_window_admits_between_98_and_102_percent_of_the_limit_with_the_table_store(string scenario, double[] split, double load)
    {
        // Arrange
        var names = TestStores.NewNames();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var simulation = new DistributedSimulation(_ => split, load, time => TestStores.CreateRateLimit(azurite.ConnectionString, names, time));

        // Act
        var result = await simulation.RunAsync(windows: 2);
        output.WriteLine($"{scenario} on Azurite: admitted per window {string.Join(", ", result)}; {clock.Elapsed.TotalSeconds:F1} s");

        // Assert
        Assert.All(result, admitted => Assert.InRange(admitted, Limit * 98 / 100, Limit * 102 / 100));
    }
}
