using ServerlessGateway.Configuration;

namespace ServerlessGateway.Resilience;

/// <summary>
/// Health of one upstream target, judged as Kong's healthchecks do: consecutive failures of one kind
/// (HTTP status, TCP error, timeout) reaching its threshold take the target out; consecutive successes
/// reaching <c>healthy.successes</c> bring it back. A threshold of 0 disables that counter. The lock
/// guards a few counters; nothing awaits under it, and the hot path only reads the volatile flag.
/// </summary>
internal sealed class TargetHealth(UpstreamHealth upstream, string target)
{
    private readonly object _gate = new();
    private volatile bool _healthy = true;
    private int _httpFailures;
    private int _tcpFailures;
    private int _timeouts;
    private int _successes;
    private long _unhealthySince;

    /// <summary><c>host:port</c> as the upstream names it.</summary>
    public string Target { get; } = target;

    public UpstreamHealth Upstream { get; } = upstream;

    public bool IsHealthy => _healthy;

    /// <summary>True when the balancer may pick the target (healthy, or due back after passive recovery).</summary>
    public bool IsAvailable() => _healthy || Upstream.TryReadmit(this);

    public void ReportPassive(UpstreamFailure failure, int status) =>
        Report(Upstream.Config.Passive.Healthy, Upstream.Config.Passive.Unhealthy, failure, status, "passive");

    public void ReportActive(UpstreamFailure failure, int status) =>
        Report(Upstream.Config.Active.Healthy, Upstream.Config.Active.Unhealthy, failure, status, "active");

    internal long UnhealthySince => Volatile.Read(ref _unhealthySince);

    /// <summary>Marks the target healthy again (passive recovery); false when it already was.</summary>
    internal bool Readmit()
    {
        lock (_gate)
        {
            if (_healthy)
            {
                return false;
            }

            ResetCounters();
            _healthy = true;
            return true;
        }
    }

    private void Report(HealthyThresholds healthy, UnhealthyThresholds unhealthy, UpstreamFailure failure, int status, string check)
    {
        bool? changedTo = null;
        lock (_gate)
        {
            switch (failure)
            {
                case UpstreamFailure.None when Contains(unhealthy.HttpStatuses, status):
                    changedTo = Fail(ref _httpFailures, unhealthy.HttpFailures);
                    break;
                case UpstreamFailure.None when Contains(healthy.HttpStatuses, status):
                    changedTo = Succeed(healthy.Successes);
                    break;
                case UpstreamFailure.ConnectError or UpstreamFailure.Transport:
                    changedTo = Fail(ref _tcpFailures, unhealthy.TcpFailures);
                    break;
                case UpstreamFailure.ConnectTimeout or UpstreamFailure.Timeout:
                    changedTo = Fail(ref _timeouts, unhealthy.Timeouts);
                    break;
            }
        }

        if (changedTo is { } nowHealthy)
        {
            Upstream.Changed(this, nowHealthy, check);
        }
    }

    private bool? Fail(ref int counter, int threshold)
    {
        _successes = 0;
        if (threshold == 0 || !_healthy || ++counter < threshold)
        {
            return null;
        }

        ResetCounters();
        Volatile.Write(ref _unhealthySince, Upstream.Time.GetTimestamp());
        _healthy = false;
        return false;
    }

    private bool? Succeed(int threshold)
    {
        _httpFailures = _tcpFailures = _timeouts = 0;
        if (_healthy || threshold == 0 || ++_successes < threshold)
        {
            return null;
        }

        ResetCounters();
        _healthy = true;
        return true;
    }

    private void ResetCounters() => _httpFailures = _tcpFailures = _timeouts = _successes = 0;

    private static bool Contains(IReadOnlyList<int> statuses, int status)
    {
        for (var i = 0; i < statuses.Count; i++)
        {
            if (statuses[i] == status)
            {
                return true;
            }
        }

        return false;
    }
}
