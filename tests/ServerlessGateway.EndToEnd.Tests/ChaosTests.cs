using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using Xunit.Abstractions;
using static ServerlessGateway.EndToEnd.Tests.Infrastructure.Eventually;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// A real gateway whose service points at a <see cref="ChaosProxy"/> in front of a real loopback backend.
/// Timeouts are short (1 s) so a scenario takes about a second; <see cref="Margin"/> is the allowance on top of
/// a timeout that still tells an answer from a hang (not a speed claim).
/// </summary>
internal sealed class ChaosRig : IAsyncDisposable
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);

    /// <summary>The size of the <c>/cl</c> and <c>/chunked</c> bodies: 16 chunks of the proxy's buffer.</summary>
    public const int BodySize = 64 * 1024;

    private static readonly byte[] Payload = [.. Enumerable.Range(0, BodySize).Select(i => (byte)('a' + (i % 26)))];

    private ChaosRig(TestBackend backend, ChaosProxy proxy, TestGateway gateway)
    {
        Backend = backend;
        Proxy = proxy;
        Gateway = gateway;
    }

    public TestBackend Backend { get; }

    public ChaosProxy Proxy { get; }

    public TestGateway Gateway { get; }

    /// <summary>
    /// Backend: <c>/cl</c> a Content-Length body and <c>/chunked</c> a chunked one, each written in 8 KiB pieces
    /// with a flush between them; anything else <c>ok</c>. <c>?close</c> makes the backend close the connection
    /// after the response, so the next request through the gateway opens a new one (and meets new chaos).
    /// </summary>
    public static async Task<ChaosRig> StartAsync()
    {
        var backend = await TestBackend.StartAsync(async context =>
        {
            if (context.Request.Query.ContainsKey("close"))
            {
                context.Response.Headers.Connection = "close";
            }

            if (context.Request.Path.Value is "/cl" or "/chunked")
            {
                if (context.Request.Path.Value == "/cl")
                {
                    context.Response.ContentLength = BodySize;
                }

                for (var offset = 0; offset < BodySize; offset += 8 * 1024)
                {
                    await context.Response.Body.WriteAsync(Payload.AsMemory(offset, 8 * 1024));
                    await context.Response.Body.FlushAsync();
                }

                return;
            }

            await context.Response.WriteAsync("ok");
        });
        var proxy = ChaosProxy.Start(backend.Port);
        var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - name: chaos
              url: "http://127.0.0.1:{{proxy.Port}}"
              connect_timeout: 1000
              read_timeout: {{(int)ReadTimeout.TotalMilliseconds}}
              write_timeout: 1000
              retries: 2
              routes: [{name: r, paths: [/], strip_path: false}]
            """);
        return new ChaosRig(backend, proxy, gateway);
    }

    public static int ExpectedLength(string path) => path.StartsWith("/cl", StringComparison.Ordinal) || path.StartsWith("/chunked", StringComparison.Ordinal) ? BodySize : 2;

    /// <summary>A GET that must succeed with the whole body.</summary>
    public async Task AssertServedAsync(string path)
    {
        using var response = await Gateway.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ExpectedLength(path), (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    /// <summary>The proxy first: closing its connections releases whatever the gateway or the backend still waits on.</summary>
    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await Gateway.DisposeAsync();
        await Backend.DisposeAsync();
    }
}

/// <summary>
/// Issue 10 item 5, backends: latency, dropped and refused connections, resets mid-body, a silent upstream. The
/// gateway answers 502 or 504 problem+json within the configured timeout (plus <see cref="ChaosRig.Margin"/>),
/// or, once the response has started, aborts the client's body, never ending it as if it were complete; and it
/// serves again as soon as the upstream does.
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ReadTimeout = ChaosRig.ReadTimeout;
    private static readonly TimeSpan Margin = ChaosRig.Margin;

    /// <summary>Timers fire no earlier than asked; this allows for the clock's granularity only.</summary>
    private static readonly TimeSpan Granularity = TimeSpan.FromMilliseconds(50);

    [Fact(Timeout = 30_000)]
    public async Task Latency_under_the_read_timeout_is_served_and_over_it_is_a_504_within_the_timeout()
    {
        await using var rig = await ChaosRig.StartAsync();

        rig.Proxy.Behaviour = ChaosBehaviour.Latency(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(20));
        await rig.AssertServedAsync("/cl");
        rig.Proxy.Behaviour = ChaosBehaviour.Latency(ReadTimeout + TimeSpan.FromSeconds(4));
        var (late, elapsed) = await TimedAsync(() => rig.Gateway.Client.GetAsync("/small"));

        output.WriteLine($"first byte 5 s late, read_timeout 1 s: {(int)late.StatusCode} after {elapsed.TotalMilliseconds:F0} ms");
        var detail = await Problem.AssertAsync(late, HttpStatusCode.GatewayTimeout);
        Assert.Contains("timed out", detail, StringComparison.Ordinal);
        Assert.InRange(elapsed, ReadTimeout - Granularity, ReadTimeout + Margin);
    }

    [Fact(Timeout = 30_000)]
    public async Task Dropped_reset_and_refused_connections_before_the_response_are_a_prompt_502_and_the_gateway_serves_again_after()
    {
        await using var rig = await ChaosRig.StartAsync();

        using var retries = new CounterRecorder(rig.Gateway.Services.GetRequiredService<ServerlessGateway.Observability.GatewayMetrics>().Meter, "gateway.upstream.retries");

        rig.Proxy.Behaviour = ChaosBehaviour.Drop;
        var (dropped, droppedIn) = await TimedAsync(() => rig.Gateway.Client.GetAsync("/small"));
        var droppedTries = rig.Proxy.Accepted;
        var droppedRetries = retries.Total;
        rig.Proxy.Behaviour = ChaosBehaviour.ResetAfter(0);
        var (reset, resetIn) = await TimedAsync(() => rig.Gateway.Client.GetAsync("/small"));
        var resetTries = rig.Proxy.Accepted - droppedTries;
        await rig.Proxy.RefuseAsync();
        // A refused connect is retried (retries: 2), each on a new connection that is refused too.
        var (refused, refusedIn) = await TimedAsync(() => rig.Gateway.Client.GetAsync("/small"));
        rig.Proxy.Behaviour = ChaosBehaviour.PassThrough;
        rig.Proxy.Listen();
        await rig.AssertServedAsync("/small");

        output.WriteLine($"dropped: {(int)dropped.StatusCode} after {droppedIn.TotalMilliseconds:F0} ms ({droppedTries} connections, {droppedRetries} gateway retries); " +
            $"reset before the head: {(int)reset.StatusCode} after {resetIn.TotalMilliseconds:F0} ms ({resetTries} connections); " +
            $"refused: {(int)refused.StatusCode} after {refusedIn.TotalMilliseconds:F0} ms");
        await Problem.AssertAsync(dropped, HttpStatusCode.BadGateway);
        await Problem.AssertAsync(reset, HttpStatusCode.BadGateway);
        await Problem.AssertAsync(refused, HttpStatusCode.BadGateway);
        Assert.True(droppedIn < Margin, $"dropped: {droppedIn}");
        Assert.True(resetIn < Margin, $"reset: {resetIn}");
        Assert.True(refusedIn < Margin, $"refused: {refusedIn}");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/cl", "reset")]
    [InlineData("/chunked", "reset")]
    [InlineData("/cl", "stall")]
    [InlineData("/chunked", "stall")]
    public async Task A_body_cut_mid_way_reaches_the_client_aborted_never_as_a_complete_response(string path, string chaos)
    {
        await using var rig = await ChaosRig.StartAsync();
        // reset: RST after a quarter of the body. stall: every chunk after the first waits twice the read timeout.
        rig.Proxy.Behaviour = chaos == "reset"
            ? ChaosBehaviour.ResetAfter(ChaosRig.BodySize / 4)
            : ChaosBehaviour.Latency(TimeSpan.Zero, ReadTimeout * 2);
        var bound = (chaos == "reset" ? TimeSpan.Zero : ReadTimeout) + Margin;

        var clock = Stopwatch.StartNew();
        HttpStatusCode? status = null;
        var clientError = await Record.ExceptionAsync(async () =>
        {
            using var response = await rig.Gateway.Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            status = response.StatusCode;
            await response.Content.ReadAsByteArrayAsync();
        });
        var viaClient = clock.Elapsed;
        clock.Restart();
        // RawHttp returns only a complete response (Content-Length bytes, or the terminating chunk); else it throws.
        var socketError = await Record.ExceptionAsync(() => RawHttp.GetAsync(rig.Gateway.BaseAddress, path));
        var viaSocket = clock.Elapsed;
        rig.Proxy.Behaviour = ChaosBehaviour.PassThrough;
        await rig.AssertServedAsync(path);

        output.WriteLine($"{path} {chaos}: HttpClient {(status is null ? "no head" : $"head {(int)status}")}, then {clientError?.GetType().Name} after {viaClient.TotalMilliseconds:F0} ms; " +
            $"raw socket {socketError?.GetType().Name} ({socketError?.Message}) after {viaSocket.TotalMilliseconds:F0} ms");
        // The head is 200 when it arrived. When the gateway aborts the connection right after its first body write,
        // the client may get the reset before it read the head: an aborted exchange all the same.
        Assert.True(status is null or HttpStatusCode.OK, $"status {status}");
        Assert.True(clientError is IOException or HttpRequestException { InnerException: IOException }, $"head {status}, the exchange ended with {clientError?.ToString() ?? "a complete body"}");
        Assert.IsAssignableFrom<IOException>(socketError);
        Assert.True(viaClient < bound, $"HttpClient: {viaClient}");
        Assert.True(viaSocket < bound, $"raw socket: {viaSocket}");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_silent_upstream_is_a_504_within_the_timeout_health_answers_meanwhile_and_the_gateway_recovers()
    {
        await using var rig = await ChaosRig.StartAsync();
        await rig.AssertServedAsync("/small");

        // The pooled connection from the request above goes silent too.
        rig.Proxy.Behaviour = ChaosBehaviour.Blackhole;
        var silent = TimedAsync(() => rig.Gateway.Client.GetAsync("/small"));
        var (health, healthIn) = await TimedAsync(() => rig.Gateway.Client.GetAsync("/_gateway/health"));
        var (timedOut, timedOutIn) = await silent;
        rig.Proxy.Behaviour = ChaosBehaviour.PassThrough;
        await rig.AssertServedAsync("/cl");

        output.WriteLine($"blackhole: {(int)timedOut.StatusCode} after {timedOutIn.TotalMilliseconds:F0} ms; health {(int)health.StatusCode} after {healthIn.TotalMilliseconds:F0} ms");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(healthIn < Margin, $"health: {healthIn}");
        await Problem.AssertAsync(timedOut, HttpStatusCode.GatewayTimeout);
        Assert.InRange(timedOutIn, ReadTimeout - Granularity, ReadTimeout + Margin);
    }
}

[CollectionDefinition(nameof(ChaosLeakTests), DisableParallelization = true)]
public sealed class ChaosLeakCollection;

/// <summary>
/// Issue 10 item 5, leaks: 200 requests through a proxy that drops, resets (before and mid-body), delays and
/// swallows connections. Alone in its collection (xunit runs it after the parallel ones), so the process's
/// descriptor count is this test's.
/// </summary>
[Collection(nameof(ChaosLeakTests))]
public sealed class ChaosLeakTests(ITestOutputHelper output)
{
    private const int Requests = 200;
    private const int Concurrency = 8;

    /// <summary>Descriptors the runtime may open or close on its own meanwhile (timers, thread pool, the client pool's churn).</summary>
    private const int DescriptorSlack = 10;

    private const long MemorySlack = 32L * 1024 * 1024;

    private static readonly string[] Paths = ["/cl?close", "/chunked?close", "/small?close"];

    private sealed record Outcome(string Path, string Result, TimeSpan Elapsed);

    [Fact(Timeout = 60_000)]
    public async Task A_burst_of_chaotic_requests_leaves_no_socket_descriptor_or_memory_behind()
    {
        Assert.True(OpenHandles.Supported, "the leak check reads /proc (Linux)");
        await using var rig = await ChaosRig.StartAsync();
        // Warm up in pass-through with the same concurrency: JIT, thread pool and the client's connection pool.
        Assert.All(await BurstAsync(rig, Concurrency * 3), o => Assert.Equal("complete", o.Result));
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var before = OpenHandles.Count();
        ChaosBehaviour[] chaos =
        [
            ChaosBehaviour.PassThrough,
            ChaosBehaviour.Drop,
            ChaosBehaviour.ResetAfter(0),
            ChaosBehaviour.ResetAfter(ChaosRig.BodySize / 3),
            ChaosBehaviour.Latency(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(2)),
            ChaosBehaviour.PassThrough,
            ChaosBehaviour.ResetAfter(200),
            ChaosBehaviour.Blackhole,
        ];
        rig.Proxy.Schedule = n => chaos[n % chaos.Length];

        var clock = Stopwatch.StartNew();
        var outcomes = await BurstAsync(rig, Requests);
        var burst = clock.Elapsed;
        rig.Proxy.Behaviour = ChaosBehaviour.PassThrough;
        // Not forcing a collection here: a finalizer closing a leaked socket would hide the leak.
        (int Descriptors, int Sockets) after = default;
        IReadOnlyDictionary<string, int> tcp = new Dictionary<string, int>();
        var settled = await HoldsAsync(() =>
        {
            after = OpenHandles.Count();
            tcp = OpenHandles.TcpConnections(rig.Proxy.Port);
            return rig.Proxy.OpenConnections == 0 && tcp.Count == 0 && after.Descriptors <= before.Descriptors + DescriptorSlack;
        }, TimeSpan.FromSeconds(15), "every connection through the proxy is closed and the descriptors are back",
            () => $"{Describe(outcomes)}; proxy connections open {rig.Proxy.OpenConnections}; TCP on the proxy port " +
                $"{string.Join(", ", tcp.Select(t => $"{t.Key} x{t.Value}"))}; descriptors {before.Descriptors} -> {after.Descriptors}");
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        await rig.AssertServedAsync("/cl");

        output.WriteLine($"{Requests} requests in {burst.TotalSeconds:F1} s: {Describe(outcomes)}; slowest {outcomes.Max(o => o.Elapsed).TotalMilliseconds:F0} ms; proxy accepted {rig.Proxy.Accepted}");
        output.WriteLine($"descriptors {before.Descriptors} -> {after.Descriptors} (sockets {before.Sockets} -> {after.Sockets}), settled after {settled.TotalMilliseconds:F0} ms; " +
            $"TCP connections on the proxy port: {tcp.Count}; managed heap {memoryBefore / 1024} KiB -> {memoryAfter / 1024} KiB");
        Assert.All(outcomes, o => Assert.True(o.Elapsed < ChaosRig.ReadTimeout + ChaosRig.Margin, $"{o.Path}: {o.Result} after {o.Elapsed}"));
        Assert.DoesNotContain(outcomes, o => o.Result.StartsWith("unexpected", StringComparison.Ordinal));
        // The chaos happened: every kind of answer is there.
        foreach (var result in new[] { "complete", "aborted", "502", "504" })
        {
            Assert.Contains(outcomes, o => o.Result == result);
        }

        Assert.True(memoryAfter - memoryBefore < MemorySlack, $"managed heap grew by {(memoryAfter - memoryBefore) / 1024} KiB");
    }

    /// <summary>
    /// GETs over <see cref="Paths"/>, <see cref="Concurrency"/> at a time. Each ends as: <c>complete</c> (200 and
    /// the whole body), <c>aborted</c> (200 whose body read failed, or a connection reset before the head), <c>502</c> or <c>504</c> (problem+json), or
    /// <c>unexpected ...</c> (anything else, a short 200 body among them).
    /// </summary>
    private static async Task<List<Outcome>> BurstAsync(ChaosRig rig, int count)
    {
        var outcomes = new ConcurrentQueue<Outcome>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, _) =>
        {
            var path = Paths[i % Paths.Length];
            var clock = Stopwatch.StartNew();
            // A hang becomes an outcome of its own instead of the test's timeout.
            using var deadline = new CancellationTokenSource(ChaosRig.ReadTimeout + ChaosRig.Margin);
            string result;
            try
            {
                using var response = await rig.Gateway.Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
                result = await ClassifyAsync(response, path, deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                result = "unexpected: no answer within the deadline";
            }
            catch (HttpRequestException ex) when (ex.InnerException is IOException)
            {
                // The gateway aborted the connection right after it began the response; the reset overtook the head.
                result = "aborted";
            }
            catch (HttpRequestException ex)
            {
                result = "unexpected: no response: " + ex.Message;
            }

            outcomes.Enqueue(new Outcome(path, result, clock.Elapsed));
        });
        return [.. outcomes];
    }

    private static string Describe(List<Outcome> outcomes) =>
        string.Join(", ", outcomes.GroupBy(o => o.Result).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"));

    private static async Task<string> ClassifyAsync(HttpResponseMessage response, string path, CancellationToken deadline)
    {
        byte[] body;
        try
        {
            body = await response.Content.ReadAsByteArrayAsync(deadline);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            return response.StatusCode == HttpStatusCode.OK ? "aborted" : $"unexpected: {(int)response.StatusCode} with an aborted body";
        }

        return response.StatusCode switch
        {
            HttpStatusCode.OK when body.Length == ChaosRig.ExpectedLength(path) => "complete",
            HttpStatusCode.OK => $"unexpected: 200 with {body.Length} of {ChaosRig.ExpectedLength(path)} bytes",
            HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout when response.Content.Headers.ContentType?.MediaType == "application/problem+json" =>
                ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => $"unexpected: {(int)response.StatusCode} {response.Content.Headers.ContentType}",
        };
    }
}
