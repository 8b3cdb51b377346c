using System.Net;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;
using Xunit.Abstractions;
using static ServerlessGateway.EndToEnd.Tests.Infrastructure.Eventually;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Issue 10 item 5, storage: the gateway's <c>GatewayStorage</c> points at a <see cref="ChaosProxy"/> in front of
/// Azurite, so the table registry (polled every second) and the rate-limit store both go through the chaos.
/// docs/rate-limiting.md "Storage faults" states what each policy does; this checks it end to end.
/// </summary>
public sealed class ChaosStorageTests(AzuriteServer azurite, ITestOutputHelper output) : IClassFixture<AzuriteServer>
{
    /// <summary>
    /// A distributed decision never waits on storage. Waiting on it would take the store's latency here (6 s) or the
    /// sync timeout (5 s); the rest is allowance for a busy CI machine running the other test classes beside this one
    /// (a 1 s bound failed once there with 1,025 ms; DistributedRateLimiter.TryAcquire is in memory, under a lock, with
    /// no store call to wait on).
    /// </summary>
    private static readonly TimeSpan Fast = ChaosRig.Margin;

    /// <summary>A strict decision waits at most its store call's timeout (500 ms), then decides locally (fault tolerant).</summary>
    private static readonly TimeSpan StrictBound = TimeSpan.FromMilliseconds(500) + Fast;

    /// <summary>How long each kind of chaos lasts while requests keep coming: a few syncs (1 s) and registry polls (1 s).</summary>
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(3);

    private sealed record Sample(string Path, HttpStatusCode Status, string? MediaType, TimeSpan Elapsed);

    private static string Service(string name, string backendUrl, string rateLimiting) => $$"""
        - name: {{name}}
          url: "{{backendUrl}}"
          routes: [{name: {{name}}, paths: [/{{name}}]}]
          plugins: [{name: rate-limiting, config: {{rateLimiting}}}]
        """;

    [Fact(Timeout = 90_000)]
    public async Task Slow_reset_and_silent_storage_leave_requests_answered_in_bounded_time_and_everything_recovers()
    {
        // Arrange
        await using var backend = await TestBackend.StartAsync();
        await using var proxy = ChaosProxy.Start(azurite.Port);
        await using var gateway = await TestGateway.StartAsync(null, settings: AdminSettings(new Dictionary<string, string?>
        {
            ["GatewayStorage"] = $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};" +
                $"TableEndpoint=http://127.0.0.1:{proxy.Port}/{AzuriteServer.AccountName};",
            ["Gateway:TablePrefix"] = "T" + Guid.NewGuid().ToString("N")[..10],
            ["Gateway:ConfigRefreshSeconds"] = "1",
        }));
        var client = gateway.Client;
        var import = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", "_format_version: \"3.0\"\nservices:\n" + string.Join("\n",
            Service("ft", backend.Url, "{minute: 100000, policy: cluster, limit_by: ip}"),
            Service("strict", backend.Url, "{minute: 100000, policy: strict, limit_by: ip}"),
            Service("closed", backend.Url, "{minute: 100000, policy: cluster, limit_by: ip, fault_tolerant: false}")), "application/yaml"));
        Assert.Equal(HttpStatusCode.Created, import.StatusCode);
        foreach (var path in new[] { "/ft", "/strict", "/closed" })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(path)).StatusCode);
        }

        // Act
        // Slower than the sync timeout (5 s) and the strict one (500 ms), on the pooled connections too.
        proxy.Behaviour = ChaosBehaviour.Latency(TimeSpan.FromSeconds(6));
        var slow = await DriveAsync(client, Phase);
        var slowHealth = await HealthAsync(client);
        // Every store answer is cut after its first 64 bytes (mid-head or mid-body): calls fail fast.
        proxy.Behaviour = ChaosBehaviour.ResetAfter(64);
        var closedAfter = await HoldsAsync(async () => (await client.GetAsync("/closed")).StatusCode == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(15), "fault_tolerant: false answers 503 once the store is known down");
        var closed = await client.GetAsync("/closed");
        var reset = await DriveAsync(client, Phase);
        proxy.Behaviour = ChaosBehaviour.Blackhole;
        var silent = await DriveAsync(client, Phase);
        var silentHealth = await HealthAsync(client);

        proxy.Behaviour = ChaosBehaviour.PassThrough;
        var recovered = await HoldsAsync(async () => (await client.GetAsync("/closed")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(25), "fault_tolerant: false admits again once a sync or heartbeat succeeds");
        var service = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", $"{{\"name\": \"late\", \"url\": \"{backend.Url}\"}}"));
        var route = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services/late/routes", "{\"name\": \"late\", \"paths\": [\"/late\"]}"));
        var routable = await HoldsAsync(async () => (await client.GetAsync("/late")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(10), "a route added after the chaos is served");

        // Assert
        Report("latency 6 s", slow, slowHealth);
        Report("reset after 64 bytes", reset, null);
        output.WriteLine($"fault_tolerant: false answered 503 {closedAfter.TotalMilliseconds:F0} ms after the resets began");
        Report("blackhole", silent, silentHealth);
        output.WriteLine($"after the chaos: fault_tolerant: false admits again within {recovered.TotalMilliseconds:F0} ms; a new route served within {routable.TotalMilliseconds:F0} ms");

        foreach (var sample in slow.Concat(reset).Concat(silent))
        {
            switch (sample.Path)
            {
                case "/ft":
                    Assert.True(sample.Status == HttpStatusCode.OK && sample.Elapsed < Fast, $"{sample}");
                    break;
                case "/strict":
                    Assert.True(sample.Status == HttpStatusCode.OK && sample.Elapsed < StrictBound, $"{sample}");
                    break;
                default:
                    // fault_tolerant: false: admitted until the store is known down, then 503 problem+json; never slow.
                    Assert.True(sample.Elapsed < Fast, $"{sample}");
                    Assert.True(sample.Status == HttpStatusCode.OK || (sample.Status == HttpStatusCode.ServiceUnavailable && sample.MediaType == "application/problem+json"), $"{sample}");
                    break;
            }
        }

        // The chaos reached the store: strict calls waited out their timeout while the store was slow.
        Assert.Contains(slow, s => s.Path == "/strict" && s.Elapsed >= TimeSpan.FromMilliseconds(450));
        Assert.All(silent.Where(s => s.Path == "/closed"), s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s.Status));
        await Problem.AssertAsync(closed, HttpStatusCode.ServiceUnavailable);
        // The config in memory is served throughout: still version 1 of the registry, whatever the store does.
        foreach (var (health, elapsed) in new[] { slowHealth, silentHealth })
        {
            Assert.Equal(1, health["config_version"]!.GetValue<long>());
            // Health pings the store with a 5 s timeout.
            Assert.True(elapsed < TimeSpan.FromSeconds(5) + ChaosRig.Margin, $"health took {elapsed}");
        }

        Assert.Equal(HttpStatusCode.Created, service.StatusCode);
        Assert.Equal(HttpStatusCode.Created, route.StatusCode);
    }

    /// <summary>Sends GET /ft, /strict and /closed in turn for <paramref name="during"/>, timing each.</summary>
    private static async Task<List<Sample>> DriveAsync(HttpClient client, TimeSpan during)
    {
        var samples = new List<Sample>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < during)
        {
            foreach (var path in new[] { "/ft", "/strict", "/closed" })
            {
                var (response, elapsed) = await TimedAsync(() => client.GetAsync(path));
                using (response)
                {
                    samples.Add(new Sample(path, response.StatusCode, response.Content.Headers.ContentType?.MediaType, elapsed));
                }
            }
        }

        return samples;
    }

    private static async Task<(JsonObject Body, TimeSpan Elapsed)> HealthAsync(HttpClient client)
    {
        var (response, elapsed) = await TimedAsync(() => client.GetAsync("/_gateway/health"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return ((JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!, elapsed);
    }

    private void Report(string chaos, List<Sample> samples, (JsonObject Body, TimeSpan Elapsed)? health)
    {
        foreach (var path in samples.GroupBy(s => s.Path))
        {
            output.WriteLine($"{chaos}: {path.Key} x{path.Count()}: " +
                string.Join(", ", path.GroupBy(s => (int)s.Status).Select(g => $"{g.Key} x{g.Count()}")) +
                $", slowest {path.Max(s => s.Elapsed).TotalMilliseconds:F0} ms");
        }

        if (health is { } h)
        {
            output.WriteLine($"{chaos}: health {h.Body.ToJsonString()} in {h.Elapsed.TotalMilliseconds:F0} ms");
        }
    }
}
