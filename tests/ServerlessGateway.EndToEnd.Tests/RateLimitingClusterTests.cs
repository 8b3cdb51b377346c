using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;
using Xunit.Abstractions;
using static ServerlessGateway.EndToEnd.Tests.Infrastructure.ClusterLoad;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Issue 7: three Standalone gateways on one Azurite and one imported config, real requests through each, one
/// fake clock (minute windows in a few real seconds; see <see cref="RateLimitCluster"/>). The bounds are
/// DESIGN.md §6: distributed admits at most 102% of the limit in every window and at least 98% when offered
/// more, evenly or 90/5/5 skewed; strict never above the limit; local up to 3x with three instances.
/// </summary>
public sealed class RateLimitingClusterTests(ITestOutputHelper output)
{
    private const long DistributedLimit = 300;
    private const long StrictLimit = 45;
    private const long LocalLimit = 20;

    /// <summary>Window 0 of every test; the gateways start 12 s before it, so every instance has seen the others' heartbeats.</summary>
    private static readonly DateTimeOffset FirstWindow = new(2026, 6, 1, 10, 0, 0, TimeSpan.Zero);

    private static string Service(string name, string rateLimiting) => $$"""
        - name: {{name}}
          url: "BACKEND"
          routes: [{name: {{name}}-route, paths: [/{{name}}]}]
          plugins:
          - name: key-auth
          - name: rate-limiting
            config: {{rateLimiting}}
        """;

    private static string Config(string backendUrl, params string[] services) =>
        ("_format_version: \"3.0\"\nservices:\n" + string.Join("\n", services) + """

        consumers:
        - username: alice
          keyauth_credentials: [{key: alice-key-0001}]
        - username: bob
          keyauth_credentials: [{key: bob-key-0002}]
        - username: carol
          keyauth_credentials: [{key: carol-key-0003}]
        - username: dave
          keyauth_credentials: [{key: dave-key-0004}]
        """).Replace("BACKEND", backendUrl, StringComparison.Ordinal);

    private void Report(List<Sent> sent, string flow, long limit, int windows)
    {
        var line = string.Join(", ", Enumerable.Range(0, windows).Select(w => $"w{w} {sent.Admitted(flow, w)} ({Percent(sent.Admitted(flow, w), limit)}%)"));
        output.WriteLine($"{flow} (limit {limit}): {line}");
    }

    [Fact(Timeout = 60_000)]
    public async Task Three_gateways_keep_distributed_within_2_percent_strict_at_the_limit_and_local_at_three_times_it()
    {
        // Arrange
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        var yaml = Config(
            backend.Url,
            Service("dist", $"{{minute: {DistributedLimit}, policy: redis, limit_by: consumer}}"),
            Service("strict", $"{{minute: {StrictLimit}, policy: strict, limit_by: consumer}}"),
            Service("local", $"{{minute: {LocalLimit}, policy: local, limit_by: consumer}}"));
        await using var cluster = await RateLimitCluster.StartAsync(azurite, yaml, FirstWindow.AddSeconds(-12));
        await cluster.AdvanceToAsync(FirstWindow);
        Flow[] flows =
        [
            // alice: even at 1.5x for two windows, then 90% onto gateway 0 at 2x (the share follows the demand).
            new("alice", "/dist/a", "alice-key-0001", DistributedLimit * 1.5, Even, 0, 1),
            new("alice", "/dist/a", "alice-key-0001", DistributedLimit * 2.0, Skewed, 2, 2),
            // bob: skewed 90/5/5 at 2x in every window.
            new("bob", "/dist/b", "bob-key-0002", DistributedLimit * 2.0, Skewed, 0, 2),
            new("carol", "/strict/c", "carol-key-0003", StrictLimit * 2.0, Even, 0, 1),
            // dave: every gateway offered twice the local limit.
            new("dave", "/local/d", "dave-key-0004", LocalLimit * 6.0, Even, 0, 0),
        ];

        // Act
        var sent = await ClusterLoad.RunAsync(cluster, FirstWindow, FirstWindow.AddMinutes(3), flows);

        // Assert
        Report(sent, "alice", DistributedLimit, 3);
        Report(sent, "bob", DistributedLimit, 3);
        Report(sent, "carol", StrictLimit, 2);
        Report(sent, "dave", LocalLimit, 1);
        output.WriteLine($"{sent.Count} requests, {started.Elapsed.TotalSeconds:F1} s in all");
        Assert.All(sent, s => Assert.True(s.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests || (s.Flow == "carol" && s.Status == HttpStatusCode.ServiceUnavailable), $"{s.Flow}: {s.Status}"));
        foreach (var flow in new[] { "alice", "bob" })
        {
            for (var window = 0; window < 3; window++)
            {
                Assert.InRange(sent.Admitted(flow, window), DistributedLimit * 98 / 100, DistributedLimit * 102 / 100);
            }
        }

        for (var window = 0; window < 2; window++)
        {
            // Strict never passes the limit; it reaches it unless a request lost every retry to concurrent writers (503).
            var contended = sent.Count(s => s.Flow == "carol" && s.Window == window && s.Status == HttpStatusCode.ServiceUnavailable);
            Assert.InRange(sent.Admitted("carol", window), StrictLimit - contended, StrictLimit);
        }

        // Local: each gateway counts alone, so three gateways admit three times the limit.
        Assert.Equal(3 * LocalLimit, sent.Admitted("dave", 0));
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(LocalLimit, sent.Count(s => s.Flow == "dave" && s.Instance == i && s.Status == HttpStatusCode.OK)));
        Assert.Equal(sent.Count(s => s.Status == HttpStatusCode.OK), backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_Azurite_stopped_decisions_stay_fast_fault_tolerant_keeps_to_its_share_and_counts_reconcile_after_the_restart()
    {
        // Arrange: distributed and strict, each fault tolerant (default) or not; Azurite stops 30 s into window 0 and
        // comes back 15 s into window 2 (empty: it keeps its data in memory), so window 1 is entirely down.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var unobserved = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> record = (_, e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += record;
        try
        {
            await using var azurite = await AzuriteServer.StartNewAsync();
            await using var backend = await TestBackend.StartAsync();
            const long strictLimit = 60;
            var yaml = Config(
                backend.Url,
                Service("dist", $"{{minute: {DistributedLimit}, policy: redis}}"),
                Service("distclosed", $"{{minute: {DistributedLimit}, policy: redis, fault_tolerant: false}}"),
                Service("strict", $"{{minute: {strictLimit}, policy: strict}}"),
                Service("strictclosed", $"{{minute: {strictLimit}, policy: strict, fault_tolerant: false}}"));
            var stop = FirstWindow.AddSeconds(30);
            var restart = FirstWindow.AddMinutes(2).AddSeconds(15);
            var cluster = await RateLimitCluster.StartAsync(azurite, yaml, FirstWindow.AddSeconds(-12), withoutSdkRetries: true);
            List<Sent> sent;
            try
            {
                await cluster.AdvanceToAsync(FirstWindow);
                Flow[] flows =
                [
                    new("alice", "/dist/a", "alice-key-0001", DistributedLimit * 1.5, Even, 0, 2),
                    new("bob", "/distclosed/b", "bob-key-0002", 60, Even, 0, 2),
                    new("carol", "/strict/c", "carol-key-0003", strictLimit * 2, Even, 0, 2),
                    new("dave", "/strictclosed/d", "dave-key-0004", 30, Even, 0, 2),
                ];

                // Act
                sent = await ClusterLoad.RunAsync(cluster, FirstWindow, FirstWindow.AddMinutes(3), flows, async now =>
                {
                    if (now == stop)
                    {
                        await azurite.StopAsync();
                    }
                    else if (now == restart)
                    {
                        await azurite.StartAsync();
                    }
                });

                foreach (var gateway in cluster.Gateways)
                {
                    Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/_gateway/health")).StatusCode);
                }
            }
            finally
            {
                await cluster.DisposeAsync();
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();

            // Assert
            Report(sent, "alice", DistributedLimit, 3);
            Report(sent, "carol", strictLimit, 3);
            var down = sent.Where(s => s.At >= stop && s.At < restart).ToList();
            var settled = down.Where(s => s.At >= stop.AddSeconds(3)).ToList();
            foreach (var flow in new[] { "alice", "bob", "carol", "dave" })
            {
                var latencies = down.Where(s => s.Flow == flow).Select(s => s.Latency.TotalMilliseconds).Order().ToList();
                output.WriteLine($"{flow} while down: {latencies.Count} requests, median {latencies[latencies.Count / 2]:F1} ms, max {latencies[^1]:F1} ms, " +
                    $"max after the first 3 s {settled.Where(s => s.Flow == flow).Max(s => s.Latency.TotalMilliseconds):F1} ms; " +
                    string.Join(", ", down.Where(s => s.Flow == flow).GroupBy(s => s.Status).Select(g => $"{(int)g.Key} x{g.Count()}")));
            }

            output.WriteLine($"{sent.Count} requests, {started.Elapsed.TotalSeconds:F1} s in all");
            foreach (var s in sent.Where(s => s.Flow is "bob" or "dave" && s.At >= restart && s.Status != HttpStatusCode.OK))
            {
                output.WriteLine($"after the restart: {s.Flow} at {s.At:mm:ss.f} on gateway {s.Instance}: {(int)s.Status}");
            }

            // Not waiting on storage: a distributed decision never does; strict only until the breakers know the store
            // is down (the first failed syncs, within 3 s), then decides at once. A request that waited for the strict
            // store call's timeout (500 ms) would exceed this bound; a whole request through two Kestrel hops stays far
            // below it (medians ~1 ms, outliers ~100 ms when test classes run in parallel on 2 cores). Sub-millisecond
            // decisions are the benchmark's to measure; the unit tests prove no store call is made.
            var fast = TimeSpan.FromMilliseconds(400);
            Assert.All(down.Where(s => s.Flow is "alice" or "bob"), s => Assert.True(s.Latency < fast, $"{s.Flow} at {s.At:mm:ss.f}: {s.Latency.TotalMilliseconds} ms"));
            Assert.All(settled, s => Assert.True(s.Latency < fast, $"{s.Flow} at {s.At:mm:ss.f}: {s.Latency.TotalMilliseconds} ms"));

            // fault_tolerant: true keeps admitting, within each instance's last share: about the limit in all (shares read
            // at different syncs and rounded up: up to 105%), never unlimited (offered: 150%).
            Assert.All(down.Where(s => s.Flow is "alice" or "carol"), s => Assert.True(s.Status is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{s.Flow}: {s.Status}"));
            for (var window = 0; window < 2; window++)
            {
                Assert.InRange(sent.Admitted("alice", window), DistributedLimit * 90 / 100, DistributedLimit * 105 / 100);
            }

            // Strict, fault tolerant, a whole window down: each gateway admits ceil(limit / 3) counted locally.
            Assert.InRange(sent.Admitted("carol", 1), 1, strictLimit);

            // fault_tolerant: false answers 503 problem+json once the store is known down (all of window 1).
            Assert.All(sent.Where(s => s.Flow is "bob" or "dave" && s.Window == 1), s =>
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, s.Status);
                Assert.Equal("application/problem+json", s.MediaType);
            });

            // Back: syncs resume and rewrite every instance's absolute counts, so window 2 (15 s down, then synced) still
            // lands within 2% of the limit; not fault tolerant plugins answer again.
            Assert.InRange(sent.Admitted("alice", 2), DistributedLimit * 98 / 100, DistributedLimit * 102 / 100);
            // Not fault tolerant plugins answer again within 10 s (the breakers' 5 s break, then a successful heartbeat or
            // sync). Known transient, not asserted away: Azurite comes back empty, so the first heartbeats count too few
            // live instances and a new counter may reserve most of the limit on one gateway until its next sync: a few
            // 429s for bob (far under the limit) right after the restart. Everything is admitted again 25 s after it.
            Assert.All(sent.Where(s => s.Flow is "bob" or "dave" && s.At >= restart.AddSeconds(10)), s => Assert.NotEqual(HttpStatusCode.ServiceUnavailable, s.Status));
            Assert.All(sent.Where(s => s.Flow is "bob" or "dave" && s.At >= restart.AddSeconds(25)), s => Assert.Equal(HttpStatusCode.OK, s.Status));
            Assert.Equal(sent.Count(s => s.Status == HttpStatusCode.OK), backend.Requests.Count);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= record;
        }

        Assert.DoesNotContain(unobserved, e => e.ToString().Contains("ServerlessGateway", StringComparison.Ordinal) || e.ToString().Contains("Azure", StringComparison.Ordinal));
    }
}
