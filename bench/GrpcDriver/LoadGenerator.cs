using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.Bench.GrpcDriver;

/// <summary>
/// Closed-loop load straight to the gRPC server, the gRPC counterpart of run.sh's wrk run: CONCURRENCY calls in
/// flight for the duration, each worker starting its next call when the previous one completes.
/// </summary>
internal static class LoadGenerator
{
    public static async Task<int> RunAsync(Uri target, int concurrency, TimeSpan duration)
    {
        using var channel = CreateChannel(target);
        var client = new Things.ThingsClient(channel);
        var request = new GetThingRequest { Name = "things/bench" };

        // The same call once first: a server that does not answer fails here, not as a run full of errors.
        if (!await PingAsync(client, request, target))
        {
            return 1;
        }

        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task<Worker>[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            workers[i] = Task.Run(() => RunWorkerAsync(client, request, end));
        }

        var results = await Task.WhenAll(workers);
        var elapsedUs = Stopwatch.GetElapsedTime(start).Ticks / TimeSpan.TicksPerMicrosecond;

        var latencies = results.SelectMany(r => r.LatenciesUs).ToArray();
        Array.Sort(latencies);
        var failed = results.Sum(r => r.Failed);
        var timeouts = results.Sum(r => r.Timeouts);
        // The keys of run.sh's wrk done() hook, so the same parser reads both; a non-OK gRPC status counts as non2xx.
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"BENCH requests={latencies.Length + failed + timeouts} duration_us={elapsedUs} p50_us={Percentile(latencies, 50)} p90_us={Percentile(latencies, 90)} p99_us={Percentile(latencies, 99)} max_us={(latencies.Length == 0 ? 0 : latencies[^1])} non2xx={failed} connect=0 read=0 write=0 timeout={timeouts}"));
        return failed + timeouts == 0 ? 0 : 1;
    }

    /// <summary>One GetThing call: exit code 0 once the server answers OK (run.sh's readiness probe: gRPC is HTTP/2 only).</summary>
    public static async Task<int> PingAsync(Uri target)
    {
        using var channel = CreateChannel(target);
        return await PingAsync(new Things.ThingsClient(channel), new GetThingRequest { Name = "things/bench" }, target) ? 0 : 1;
    }

    // One channel, HTTP/2 multiplexed (Kestrel's default stream limit is 100 per connection), more
    // connections opened if the calls in flight ever exceed it.
    private static GrpcChannel CreateChannel(Uri target) => GrpcChannel.ForAddress(target, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
    });

    private static async Task<bool> PingAsync(Things.ThingsClient client, GetThingRequest request, Uri target)
    {
        try
        {
            await client.GetThingAsync(request, deadline: TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(10));
            return true;
        }
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync($"GrpcDriver: {target} did not answer GetThing: {e.Status}");
            return false;
        }
    }

    private static async Task<Worker> RunWorkerAsync(Things.ThingsClient client, GetThingRequest request, long end)
    {
        var worker = new Worker();
        while (Stopwatch.GetTimestamp() < end)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                // 5 s, as run.sh's `wrk --timeout 5s`.
                await client.GetThingAsync(request, deadline: TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(5));
                worker.LatenciesUs.Add(Stopwatch.GetElapsedTime(started).Ticks / TimeSpan.TicksPerMicrosecond);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
            {
                worker.Timeouts++;
            }
            catch (RpcException)
            {
                worker.Failed++;
            }
        }

        return worker;
    }

    /// <summary>Nearest rank on the sorted latencies.</summary>
    private static long Percentile(long[] sorted, int percent) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed class Worker
    {
        public List<long> LatenciesUs { get; } = new(capacity: 64 * 1024);

        public int Failed { get; set; }

        public int Timeouts { get; set; }
    }
}
