using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Observability;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>The background loop: syncs on the clock, survives a store outage, flushes on shutdown.</summary>
public sealed class RateLimitSyncServiceTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly PeriodLimit[] Minute100 = [new(RateLimitPeriod.Minute, 100)];

    private static RateLimitCounters Counters(FakeTimeProvider time, IRateLimitStore store)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton<GatewayMetrics>();
        return new RateLimitCounters("instance-a", store, time, services.BuildServiceProvider().GetRequiredService<GatewayMetrics>(), NullLoggerFactory.Instance);
    }

    private static async Task EventuallyAsync(Func<bool> condition, FakeTimeProvider time, TimeSpan step)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            time.Advance(step);
            await Task.Delay(10);
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task The_loop_syncs_counts_while_running_and_flushes_them_with_no_reservation_on_stop()
    {
        // Arrange
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryRateLimitStore(time);
        var counters = Counters(time, store);
        var service = new RateLimitSyncService(counters);
        var usage = new PeriodUsage[1];
        await service.StartAsync(CancellationToken.None);

        // Act
        for (var i = 0; i < 5; i++)
        {
            counters.Distributed!.TryAcquire("k", Minute100, false, null, true, time.GetUtcNow(), usage);
        }

        await EventuallyAsync(() => store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "instance-a") is not null, time, TimeSpan.FromMilliseconds(500));
        var synced = store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "instance-a")!.Value;
        counters.Distributed!.TryAcquire("k", Minute100, false, null, true, time.GetUtcNow(), usage);
        await service.StopAsync(CancellationToken.None);
        var flushed = store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "instance-a")!.Value;

        // Assert
        Assert.Equal(5, synced.Admitted);
        Assert.True(synced.Reserved > 0, "a running instance reserves part of the remaining budget");
        Assert.Equal(new CounterValue(6, 6, 0), flushed);
        await service.DisposeAsync();
    }

    [Fact(Timeout = 20_000)]
    public async Task A_store_outage_does_not_stop_the_loop_and_the_counts_reach_the_store_when_it_returns()
    {
        // Arrange
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryRateLimitStore(time) { Failing = true };
        var counters = Counters(time, store);
        var service = new RateLimitSyncService(counters);
        var usage = new PeriodUsage[1];
        await service.StartAsync(CancellationToken.None);

        // Act
        counters.Distributed!.TryAcquire("k", Minute100, false, null, true, time.GetUtcNow(), usage);
        await EventuallyAsync(() => !counters.Distributed.StoreAvailable, time, TimeSpan.FromMilliseconds(500));
        var admittedWhileDown = counters.Distributed.TryAcquire("k", Minute100, false, null, true, time.GetUtcNow(), usage);
        store.Failing = false;
        await EventuallyAsync(() => counters.Distributed.StoreAvailable && store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "instance-a") is not null, time, TimeSpan.FromSeconds(1));
        await service.StopAsync(CancellationToken.None);

        // Assert
        Assert.Equal(RateLimitOutcome.Admitted, admittedWhileDown);
        Assert.Equal(2, store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "instance-a")!.Value.Admitted);
        await service.DisposeAsync();
    }

    [Fact(Timeout = 20_000)]
    public async Task The_gateway_wires_a_registered_store_into_the_distributed_policy_and_runs_without_one()
    {
        // Arrange
        var time = new FakeTimeProvider(Start);
        var withStore = new ServiceCollection()
            .AddSingleton<IRateLimitStore>(new InMemoryRateLimitStore(time));
        var withoutStore = new ServiceCollection();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:InstanceId"] = "gw-7" })
            .Build();

        // Act
        withStore.AddLogging().AddServerlessGateway(configuration, standaloneHost: true);
        withoutStore.AddLogging().AddServerlessGateway(configuration, standaloneHost: true);
        await using var shared = withStore.BuildServiceProvider();
        await using var local = withoutStore.BuildServiceProvider();

        // Assert
        Assert.True(shared.GetRequiredService<RateLimitCounters>().HasStore);
        // The configured id plus this process's incarnation: a restarted process never overwrites its predecessor's rows.
        Assert.Matches("^gw-7\\.[0-9a-f]{8}$", shared.GetRequiredService<RateLimitCounters>().InstanceId);
        Assert.False(local.GetRequiredService<RateLimitCounters>().HasStore);
        Assert.Contains(shared.GetServices<Microsoft.Extensions.Hosting.IHostedService>(), s => s is RateLimitSyncService);
    }

    [Fact]
    public void The_instance_id_defaults_to_the_host_name_and_process_id()
    {
        var options = new GatewayOptions();

        var id = options.ResolveInstanceId();

        Assert.Equal(Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID") is { Length: > 0 } azure ? azure : $"{Environment.MachineName}-{Environment.ProcessId}", id);
    }
}
