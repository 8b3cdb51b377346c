using Microsoft.Extensions.Hosting;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Resilience;

/// <summary>
/// Kong's active health checks: probes the targets of the served snapshot's upstreams in the background,
/// healthy ones every <c>healthy.interval</c> and unhealthy ones every <c>unhealthy.interval</c> seconds,
/// at most <c>concurrency</c> at once per upstream, each bounded by <c>timeout</c>. Probes go through the
/// gateway's SSRF-guarded upstream client. A replaced snapshot stops its probes; requests only read the
/// resulting flags.
/// </summary>
internal sealed class ActiveHealthChecker(GatewaySnapshotProvider snapshots, UpstreamClient client, ResilienceRuntime resilience) : BackgroundService
{
    private static readonly TimeSpan SnapshotPoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(50);
    private readonly HttpMessageInvoker _client = client.Invoker;
    private readonly TimeProvider _time = resilience.Time;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        GatewaySnapshot? served = null;
        CancellationTokenSource? probing = null;
        var loops = Task.CompletedTask;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var current = snapshots.Current;
                if (!ReferenceEquals(current, served))
                {
                    await StopAsync(probing, loops);
                    served = current;
                    probing = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    var token = probing.Token;
                    loops = current is null ? Task.CompletedTask : Task.WhenAll(current.ActiveChecks.Select(u => Task.Run(() => ProbeLoopAsync(u, token), token)));
                }

                await Task.Delay(SnapshotPoll, _time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await StopAsync(probing, loops);
        }
    }

    private static async Task StopAsync(CancellationTokenSource? probing, Task loops)
    {
        if (probing is null)
        {
            return;
        }

        await probing.CancelAsync();
        try
        {
            await loops;
        }
        catch (OperationCanceledException)
        {
        }

        probing.Dispose();
    }

    private async Task ProbeLoopAsync(UpstreamHealth upstream, CancellationToken cancellationToken)
    {
        var active = upstream.Config.Active;
        var targets = upstream.Targets;
        var due = new long[targets.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = active.Concurrency, CancellationToken = cancellationToken };
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _time.GetTimestamp();
            var probe = new List<int>();
            for (var i = 0; i < targets.Count; i++)
            {
                if (Interval(active, targets[i]) > 0 && due[i] <= now)
                {
                    probe.Add(i);
                }
            }

            await Parallel.ForEachAsync(probe, options, async (i, token) =>
            {
                await ProbeAsync(upstream, targets[i], token);
                due[i] = _time.GetTimestamp() + (long)(Interval(active, targets[i]) * _time.TimestampFrequency);
            });

            // Sleep until the next target is due (a target whose state has no interval is not probed, as in Kong).
            var next = long.MaxValue;
            for (var i = 0; i < targets.Count; i++)
            {
                if (Interval(active, targets[i]) > 0)
                {
                    next = Math.Min(next, due[i]);
                }
            }

            var wait = next == long.MaxValue ? SnapshotPoll : _time.GetElapsedTime(_time.GetTimestamp(), next);
            await Task.Delay(wait < MinimumWait ? MinimumWait : wait, _time, cancellationToken);
        }
    }

    private static double Interval(Configuration.ActiveHealthcheckConfig active, TargetHealth target) =>
        target.IsHealthy ? active.Healthy.Interval : active.Unhealthy.Interval;

    private async Task ProbeAsync(UpstreamHealth upstream, TargetHealth target, CancellationToken cancellationToken)
    {
        var active = upstream.Config.Active;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(active.Timeout));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{active.Type}://{target.Target}{active.HttpPath}");
        if (upstream.HostHeader is not null)
        {
            request.Headers.Host = upstream.HostHeader;
        }

        try
        {
            using var response = await _client.SendAsync(request, timeout.Token);
            target.ReportActive(UpstreamFailure.None, (int)response.StatusCode);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            target.ReportActive(UpstreamFailure.Timeout, 0);
        }
        catch (HttpRequestException ex)
        {
            // Also when the SSRF guard refused the address (no packet was sent): traffic can never reach such a
            // target either, so it counts as a TCP failure and leaves rotation instead of failing requests with 502.
            resilience.ProbeFailed(upstream.Name, target.Target, ex);
            target.ReportActive(UpstreamFailure.Transport, 0);
        }
    }
}
