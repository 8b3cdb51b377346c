using System.Diagnostics;
using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Testing;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// Three Standalone gateways (distinct <c>Gateway:InstanceId</c>) on one Azurite and one table prefix, sharing
/// one <see cref="FakeTimeProvider"/>. Their rate-limit loops tick every second at phases 0, 300 and 600 ms
/// (each starts its loop when its gateway starts). <see cref="AdvanceAsync"/> moves the clock in 100 ms steps
/// and after each step waits until every loop has finished what that step woke it for (real Azurite I/O
/// included): a sync takes no fake time, so windows of a fake minute run in a few real seconds.
/// </summary>
internal sealed class RateLimitCluster : IAsyncDisposable
{
    public static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LoopTick = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Phase = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(20);

    private readonly ObservedClock[] _clocks;

    private RateLimitCluster(FakeTimeProvider clock, TestGateway[] gateways, ObservedClock[] clocks)
    {
        Clock = clock;
        Gateways = gateways;
        _clocks = clocks;
    }

    public FakeTimeProvider Clock { get; }

    public IReadOnlyList<TestGateway> Gateways { get; }

    public DateTimeOffset Now => Clock.GetUtcNow();

    /// <summary>Starts the gateways at <paramref name="start"/> (a whole 100 ms) and imports <paramref name="yaml"/> through the first one's admin API.</summary>
    /// <remarks>
    /// <paramref name="withoutSdkRetries"/>: a Table client that does not retry. The SDK waits out its retry
    /// backoff (200 + 400 ms) in real time, so against a stopped Azurite every failing call would cost 0.6 s
    /// of the test's time while the fake clock stands still; the rate limiter's own guard (timeout, breaker) is
    /// what an outage test is about.
    /// </remarks>
    public static async Task<RateLimitCluster> StartAsync(AzuriteServer azurite, string yaml, DateTimeOffset start, int instances = 3, bool withoutSdkRetries = false)
    {
        var clock = new FakeTimeProvider(start);
        var prefix = "T" + Guid.NewGuid().ToString("N")[..10];
        var gateways = new List<TestGateway>();
        var clocks = new ObservedClock[instances];
        try
        {
            for (var i = 0; i < instances; i++)
            {
                var observed = clocks[i] = new ObservedClock(clock, LoopTick);
                var settings = AdminSettings(new Dictionary<string, string?>
                {
                    ["GatewayStorage"] = azurite.ConnectionString,
                    ["Gateway:TablePrefix"] = prefix,
                    ["Gateway:InstanceId"] = $"gw-{i}",
                    ["Gateway:ConfigRefreshSeconds"] = "5",
                });

                // Started off the test's synchronization context, so the background loops never post to it
                // and a clock step runs the loops it wakes inline, up to their first real I/O.
                var gateway = await Task.Run(() => TestGateway.StartAsync(null, services =>
                {
                    services.Replace(ServiceDescriptor.Singleton<TimeProvider>(observed));
                    if (withoutSdkRetries)
                    {
                        services.Replace(ServiceDescriptor.Singleton(new TableServiceClient(azurite.ConnectionString, new TableClientOptions { Retry = { MaxRetries = 0 } })));
                    }
                }, settings));
                gateways.Add(gateway);
                await WaitParkedAsync(clocks.AsSpan(0, i + 1).ToArray());
                if (i == 0)
                {
                    using var import = Admin(HttpMethod.Post, "/_gateway/config", yaml, "application/yaml");
                    var response = await gateway.Client.SendAsync(import);
                    Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
                }

                if (i < instances - 1)
                {
                    clock.Advance(Phase);
                    await WaitParkedAsync(clocks.AsSpan(0, i + 1).ToArray());
                }
            }
        }
        catch
        {
            foreach (var gateway in gateways)
            {
                await gateway.DisposeAsync();
            }

            throw;
        }

        return new RateLimitCluster(clock, [.. gateways], clocks);
    }

    /// <summary>Advances the clock in 100 ms steps up to <paramref name="until"/>, letting every loop finish each step.</summary>
    public async Task AdvanceToAsync(DateTimeOffset until)
    {
        while (Now < until)
        {
            await AdvanceAsync(Step);
        }
    }

    public async Task AdvanceAsync(TimeSpan by)
    {
        Clock.Advance(by);
        await WaitParkedAsync(_clocks);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in Gateways)
        {
            await gateway.DisposeAsync();
        }
    }

    private static async Task WaitParkedAsync(ObservedClock[] clocks)
    {
        var waited = Stopwatch.StartNew();
        while (!Array.TrueForAll(clocks, c => c.LoopParked))
        {
            if (waited.Elapsed > SettleLimit)
            {
                throw new TimeoutException($"a rate-limit loop did not finish its step within {SettleLimit}");
            }

            await Task.Delay(1);
        }
    }
}
