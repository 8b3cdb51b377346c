using System.Diagnostics;
using System.Net;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A stream of real requests through a <see cref="RateLimitCluster"/>: <see cref="PerMinute"/> requests per
/// (fake) minute for <see cref="ApiKey"/> on <see cref="Path"/>, split over the gateways by <see cref="Split"/>,
/// in the windows <see cref="FirstWindow"/> to <see cref="LastWindow"/>.
/// </summary>
internal sealed record Flow(string Name, string Path, string ApiKey, double PerMinute, double[] Split, int FirstWindow, int LastWindow);

/// <summary>One request: which flow, window (from the load's first window) and gateway, its status and real latency.</summary>
internal sealed record Sent(string Flow, int Window, int Instance, DateTimeOffset At, HttpStatusCode Status, string? MediaType, TimeSpan Latency);

internal static class ClusterLoad
{
    public static readonly double[] Even = [1 / 3.0, 1 / 3.0, 1 / 3.0];
    public static readonly double[] Skewed = [0.90, 0.05, 0.05];

    /// <summary>
    /// Offers the flows step by step from the cluster's clock to <paramref name="until"/>; within a step the
    /// gateways are called concurrently, each gateway's requests one after the other. <paramref name="beforeStep"/>
    /// runs before each step's requests (e.g. to stop storage at a given time).
    /// </summary>
    public static async Task<List<Sent>> RunAsync(
        RateLimitCluster cluster, DateTimeOffset firstWindow, DateTimeOffset until, IReadOnlyList<Flow> flows, Func<DateTimeOffset, Task>? beforeStep = null)
    {
        var sent = new List<Sent>();
        var owed = new double[flows.Count, cluster.Gateways.Count];
        var perInstance = new List<Flow>[cluster.Gateways.Count];
        while (cluster.Now < until)
        {
            var now = cluster.Now;
            if (beforeStep is not null)
            {
                await beforeStep(now);
            }

            var window = (int)Math.Floor((now - firstWindow).TotalMinutes);
            for (var i = 0; i < perInstance.Length; i++)
            {
                perInstance[i] = [];
                for (var f = 0; f < flows.Count; f++)
                {
                    var flow = flows[f];
                    if (window < flow.FirstWindow || window > flow.LastWindow)
                    {
                        continue;
                    }

                    owed[f, i] += flow.PerMinute * flow.Split[i] * RateLimitCluster.Step.TotalMinutes;
                    while (owed[f, i] >= 1)
                    {
                        owed[f, i] -= 1;
                        perInstance[i].Add(flow);
                    }
                }
            }

            var results = await Task.WhenAll(perInstance.Select((list, instance) => SendAllAsync(cluster.Gateways[instance], instance, list, window, now)));
            foreach (var result in results)
            {
                sent.AddRange(result);
            }

            await cluster.AdvanceAsync(RateLimitCluster.Step);
        }

        return sent;
    }

    public static int Admitted(this IEnumerable<Sent> sent, string flow, int window) =>
        sent.Count(s => s.Flow == flow && s.Window == window && s.Status == HttpStatusCode.OK);

    public static double Percent(long admitted, long limit) => Math.Round(admitted * 100.0 / limit, 1);

    private static async Task<List<Sent>> SendAllAsync(TestGateway gateway, int instance, List<Flow> flows, int window, DateTimeOffset now)
    {
        var sent = new List<Sent>(flows.Count);
        foreach (var flow in flows)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, flow.Path);
            request.Headers.Add("apikey", flow.ApiKey);
            var clock = Stopwatch.StartNew();
            using var response = await gateway.Client.SendAsync(request);
            await response.Content.LoadIntoBufferAsync();
            clock.Stop();
            sent.Add(new(flow.Name, window, instance, now, response.StatusCode, response.Content.Headers.ContentType?.MediaType, clock.Elapsed));
        }

        return sent;
    }
}
