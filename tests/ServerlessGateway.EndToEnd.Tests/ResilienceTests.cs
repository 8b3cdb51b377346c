using System.Collections.Concurrent;
using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Forwarding;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Circuit breakers, retries and health checks against loopback backends that misbehave on purpose.</summary>
public sealed class ResilienceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>A backend answering each request with the next queued status, 200 once the queue is empty.</summary>
    private static Task<TestBackend> ScriptedBackendAsync(ConcurrentQueue<int> statuses) =>
        TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = statuses.TryDequeue(out var status) ? status : 200;
            return context.Response.WriteAsync("scripted");
        });

    /// <summary>A backend answering 500 while <paramref name="failing"/> says so, else 200.</summary>
    private static Task<TestBackend> SwitchableBackendAsync(Func<bool> failing) =>
        TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = failing() ? 500 : 200;
            return context.Response.WriteAsync("switchable");
        });

    /// <summary>A backend whose <c>/health</c> answers 503 while <paramref name="down"/> says so; everything else 200.</summary>
    private static Task<TestBackend> HealthEndpointBackendAsync(Func<bool> down) =>
        TestBackend.StartAsync(context =>
        {
            context.Response.StatusCode = context.Request.Path == "/health" && down() ? 503 : 200;
            return Task.CompletedTask;
        });

    private static Task PollAsync(Func<Task<bool>> condition, string what) => Eventually.HoldsAsync(condition, Deadline, what);

    private static async Task<List<HttpStatusCode>> GetManyAsync(HttpClient client, string path, int count)
    {
        var statuses = new List<HttpStatusCode>(count);
        for (var i = 0; i < count; i++)
        {
            using var response = await client.GetAsync(path);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact(Timeout = 60_000)]
    public async Task Breaker_opens_at_the_failure_ratio_and_recovers_through_half_open()
    {
        var statuses = new ConcurrentQueue<int>([200, 200, 200, 500, 500, 500]);
        await using var backend = await ScriptedBackendAsync(statuses);
        await using var gateway = await TestGateway.StartAsync($"""
            _format_version: "3.0"
            services:
            - name: s
              url: "{backend.Url}"
              circuit_breaker: {"{"}failure_ratio: 0.5, minimum_throughput: 4, sampling_duration: 60, break_duration: 2{"}"}
              routes: [{"{"}name: r, paths: [/api]{"}"}]
            """);
        using var transitions = new CounterRecorder(gateway.Services.GetRequiredService<ServerlessGateway.Observability.GatewayMetrics>().Meter, "gateway.circuit_breaker.transitions");

        // 1 failure in 4 (25%) keeps it closed; the 6th exchange brings the ratio to 3/6 = 50%.
        var seen = await GetManyAsync(gateway.Client, "/api", 6);
        var rejected = await gateway.Client.GetAsync("/api");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError], seen);
        var detail = await Problem.AssertAsync(rejected, HttpStatusCode.ServiceUnavailable);
        Assert.Contains("circuit breaker is open", detail, StringComparison.Ordinal);
        // The remaining break time, rounded up.
        Assert.InRange(rejected.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        Assert.Equal(6, backend.Requests.Count);

        // After the break one half-open probe reaches the (now healthy) backend and closes the breaker.
        await PollAsync(async () => (await gateway.Client.GetAsync("/api")).StatusCode == HttpStatusCode.OK, "the half-open probe succeeds");
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], await GetManyAsync(gateway.Client, "/api", 3));
        Assert.Equal(10, backend.Requests.Count);
        Assert.Equal(1, transitions.Sum("state", "open"));
        Assert.Equal(1, transitions.Sum("state", "half_open"));
        Assert.Equal(1, transitions.Sum("state", "closed"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Open_breaker_of_one_service_leaves_another_service_alone()
    {
        await using var failing = await SwitchableBackendAsync(() => true);
        await using var healthy = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - name: a
              url: "{{failing.Url}}"
              circuit_breaker: {minimum_throughput: 2, break_duration: 60}
              routes: [{name: a, paths: [/a]}]
            - name: b
              url: "{{healthy.Url}}"
              circuit_breaker: {minimum_throughput: 2, break_duration: 60}
              routes: [{name: b, paths: [/b]}]
            """);

        await GetManyAsync(gateway.Client, "/a", 2);
        var a = await gateway.Client.GetAsync("/a");
        var b = await GetManyAsync(gateway.Client, "/b", 3);

        await Problem.AssertAsync(a, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(60), a.Headers.RetryAfter?.Delta);
        Assert.Equal(2, failing.Requests.Count);
        Assert.All(b, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(3, healthy.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Failing_target_trips_only_its_own_breaker_and_traffic_moves_to_the_other()
    {
        await using var failing = await SwitchableBackendAsync(() => true);
        await using var healthy = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - name: s
              host: pool
              circuit_breaker: {minimum_throughput: 2, break_duration: 60}
              routes: [{name: r, paths: [/api]}]
            upstreams:
            - name: pool
              targets: [{target: "127.0.0.1:{{failing.Port}}"}, {target: "127.0.0.1:{{healthy.Port}}"}]
            """);

        var warmUp = await GetManyAsync(gateway.Client, "/api", 4);
        var after = await GetManyAsync(gateway.Client, "/api", 6);

        Assert.Equal(2, warmUp.Count(s => s == HttpStatusCode.InternalServerError));
        Assert.All(after, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(2, failing.Requests.Count);
        Assert.Equal(8, healthy.Requests.Count);
    }

    private static string TwoTargets(int dead, int live, string extra = "") => $$"""
        _format_version: "3.0"
        services:
        - name: s
          host: pool
          retries: 5
          routes: [{name: r, paths: [/api]}]
        upstreams:
        - name: pool
          targets: [{target: "127.0.0.1:{{dead}}"}, {target: "127.0.0.1:{{live}}"}]
        {{extra}}
        """;

    [Fact(Timeout = 60_000)]
    public async Task Get_without_body_is_retried_after_a_connect_error_and_lands_on_the_live_target()
    {
        await using var live = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(TwoTargets(ClosedPort.Get(), live.Port));
        using var retries = new CounterRecorder(gateway.Services.GetRequiredService<ServerlessGateway.Observability.GatewayMetrics>().Meter, "gateway.upstream.retries");

        var statuses = await GetManyAsync(gateway.Client, "/api/x", 4);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(4, live.Requests.Count);
        // Each retry takes the balancer's next slot (as Kong's ring does), so round robin hands every request the
        // dead target first and each is retried once; passive health checks are what take such a target out.
        Assert.Equal(4, retries.Sum("outcome", "retried"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Connect_timeout_is_retried_on_the_next_target()
    {
        await using var live = await TestBackend.StartAsync();
        // Names resolve slower than the connect timeout allows; the live target is an address literal.
        var resolver = new FakeResolver(_ => [IPAddress.Loopback], delay: TimeSpan.FromSeconds(5));
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - name: s
              host: pool
              connect_timeout: 100
              routes: [{name: r, paths: [/api]}]
            upstreams:
            - name: pool
              targets: [{target: "slow.test:{{live.Port}}"}, {target: "127.0.0.1:{{live.Port}}"}]
            """, s => s.AddSingleton<IUpstreamResolver>(resolver));

        var statuses = await GetManyAsync(gateway.Client, "/api", 2);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(2, live.Requests.Count);
        lock (resolver.Lookups)
        {
            Assert.Equal(["slow.test"], resolver.Lookups.Distinct());
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Post_with_body_is_not_retried()
    {
        await using var live = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(TwoTargets(ClosedPort.Get(), live.Port));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await gateway.Client.PostAsync("/api/x", new StringContent("payload"));
            statuses.Add(response.StatusCode);
        }

        // Round robin alternates: every POST that met the dead target failed instead of moving on.
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.BadGateway));
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(2, live.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Failures_after_the_request_was_sent_are_not_retried()
    {
        var clientHasHeaders = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            if (context.Request.Path == "/partial")
            {
                // The response started: headers and some body, then the connection is reset.
                context.Response.ContentLength = 1000;
                await context.Response.WriteAsync("part");
                await context.Response.Body.FlushAsync();
                await clientHasHeaders.Task;
            }

            context.Abort();
        });
        await using var gateway = await TestGateway.StartAsync($"""
            _format_version: "3.0"
            services:
            - name: s
              url: "{backend.Url}"
              retries: 5
              routes: [{"{"}name: r, paths: [/], strip_path: false{"}"}]
            """);

        var reset = await gateway.Client.GetAsync("/reset");
        using var partial = await gateway.Client.GetAsync("/partial", HttpCompletionOption.ResponseHeadersRead);
        clientHasHeaders.SetResult();
        var body = await Record.ExceptionAsync(() => partial.Content.ReadAsStringAsync());

        await Problem.AssertAsync(reset, HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.OK, partial.StatusCode);
        Assert.NotNull(body);
        Assert.Equal(2, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Retries_are_bounded_by_the_retry_budget()
    {
        var port = ClosedPort.Get();
        var resolver = new FakeResolver(_ => [IPAddress.Loopback]);
        await using var gateway = await TestGateway.StartAsync($"""
            _format_version: "3.0"
            services:
            - name: s
              url: "http://dead.test:{port}"
              retries: 5
              routes: [{"{"}name: r, paths: [/api]{"}"}]
            """, s => s.AddSingleton<IUpstreamResolver>(resolver));

        var statuses = await GetManyAsync(gateway.Client, "/api", 20);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.BadGateway, status));
        // Each attempt resolves once. Unbounded: 20 x (1 + 5) = 120 attempts. The budget allows 3 retries a
        // second over 10 s (30) plus 20% of the 20 requests (4).
        int attempts;
        lock (resolver.Lookups)
        {
            attempts = resolver.Lookups.Count;
        }

        Assert.InRange(attempts, 20 + 30, 20 + 34);
    }

    [Fact(Timeout = 60_000)]
    public async Task Passive_checks_take_a_failing_target_out_and_recovery_brings_it_back()
    {
        var failing = true;
        await using var flaky = await SwitchableBackendAsync(() => Volatile.Read(ref failing));
        await using var steady = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(
            TwoTargets(flaky.Port, steady.Port, "  healthchecks: {passive: {unhealthy: {http_failures: 2}}}"),
            settings: new Dictionary<string, string?> { ["Gateway:Resilience:PassiveRecoverySeconds"] = "3" });

        var warmUp = await GetManyAsync(gateway.Client, "/api", 4);
        var whileOut = await GetManyAsync(gateway.Client, "/api", 6);

        Assert.Equal(2, warmUp.Count(s => s == HttpStatusCode.InternalServerError));
        Assert.All(whileOut, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(2, flaky.Requests.Count);

        Volatile.Write(ref failing, false);
        await PollAsync(async () =>
        {
            await gateway.Client.GetAsync("/api");
            return flaky.Requests.Count > 2;
        }, "the target is back in rotation");
        Assert.All(await GetManyAsync(gateway.Client, "/api", 4), status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact(Timeout = 60_000)]
    public async Task Active_checks_take_a_target_out_bring_it_back_and_no_healthy_target_means_503()
    {
        var aDown = false;
        var bDown = false;
        await using var a = await HealthEndpointBackendAsync(() => Volatile.Read(ref aDown));
        await using var b = await HealthEndpointBackendAsync(() => Volatile.Read(ref bDown));
        await using var gateway = await TestGateway.StartAsync(TwoTargets(a.Port, b.Port, """
              healthchecks:
                active:
                  http_path: /health
                  timeout: 1
                  healthy: {interval: 0.1, successes: 1}
                  unhealthy: {interval: 0.1, http_failures: 1}
            """));
        int Proxied(TestBackend backend) => backend.Requests.Count(r => r.RawTarget != "/health");

        Volatile.Write(ref aDown, true);
        await PollAsync(async () =>
        {
            var before = Proxied(a);
            await GetManyAsync(gateway.Client, "/api", 4);
            return Proxied(a) == before;
        }, "target a is out of rotation");

        Volatile.Write(ref bDown, true);
        await PollAsync(async () => (await gateway.Client.GetAsync("/api")).StatusCode == HttpStatusCode.ServiceUnavailable, "no target is healthy");
        var detail = await Problem.AssertAsync(await gateway.Client.GetAsync("/api"), HttpStatusCode.ServiceUnavailable);
        Assert.Contains("failure to get a peer from the ring-balancer", detail, StringComparison.Ordinal);

        Volatile.Write(ref aDown, false);
        Volatile.Write(ref bDown, false);
        await PollAsync(async () =>
        {
            var before = Proxied(a);
            var statuses = await GetManyAsync(gateway.Client, "/api", 4);
            return Proxied(a) > before && statuses.All(s => s == HttpStatusCode.OK);
        }, "target a is back in rotation");
    }

    [Fact(Timeout = 60_000)]
    public async Task Management_api_accepts_and_validates_the_circuit_breaker_block()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var client = gateway.Client;

        var created = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services",
            "{\"name\": \"s\", \"url\": \"http://s.internal\", \"circuit_breaker\": {\"failure_ratio\": 0.3, \"break_duration\": 5}}"));
        var invalid = await client.SendAsync(Admin(HttpMethod.Patch, "/_gateway/services/s", "{\"circuit_breaker\": {\"failure_ratio\": 2}}"));
        var read = await JsonAsync(await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/s")));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await Problem.AssertAsync(invalid, HttpStatusCode.BadRequest);
        var paths = (await JsonAsync(invalid))["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        Assert.Equal(["circuit_breaker.failure_ratio"], paths);
        Assert.Equal(0.3, read["circuit_breaker"]!["failure_ratio"]!.GetValue<double>());
        Assert.Equal(5, read["circuit_breaker"]!["break_duration"]!.GetValue<int>());
        Assert.Equal(20, read["circuit_breaker"]!["minimum_throughput"]!.GetValue<int>());
    }
}
