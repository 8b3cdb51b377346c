using ServerlessGateway.Configuration;

namespace ServerlessGateway.Resilience;

/// <summary>
/// The health of an upstream's targets for one snapshot, shared by every service that balances over it.
/// Made only when the upstream enables active or passive checks; a new snapshot starts all targets healthy.
/// </summary>
internal sealed class UpstreamHealth
{
    private readonly ResilienceRuntime _runtime;
    private readonly long _recoveryTicks;

    private UpstreamHealth(UpstreamConfig upstream, ResilienceRuntime runtime)
    {
        _runtime = runtime;
        Name = upstream.Name;
        HostHeader = upstream.HostHeader;
        Config = upstream.Healthchecks;
        _recoveryTicks = (long)(runtime.Options.PassiveRecoverySeconds * runtime.Time.TimestampFrequency);
        var targets = new TargetHealth[upstream.Targets.Count];
        for (var i = 0; i < targets.Length; i++)
        {
            targets[i] = new TargetHealth(this, upstream.Targets[i].Target);
        }

        Targets = targets;
    }

    public string Name { get; }

    public string? HostHeader { get; }

    public HealthchecksConfig Config { get; }

    /// <summary>In the upstream's target order.</summary>
    public IReadOnlyList<TargetHealth> Targets { get; }

    public TimeProvider Time => _runtime.Time;

    public static UpstreamHealth? Create(UpstreamConfig upstream, ResilienceRuntime? runtime) =>
        runtime is not null && (upstream.Healthchecks.Active.Enabled || upstream.Healthchecks.Passive.Enabled)
            ? new UpstreamHealth(upstream, runtime)
            : null;

    /// <summary>
    /// Without active probes of unhealthy targets nothing would ever bring a target back (Kong waits for an
    /// admin); here it gets traffic again after <see cref="ResilienceOptions.PassiveRecoverySeconds"/>.
    /// </summary>
    public bool TryReadmit(TargetHealth target)
    {
        if (Config.Active.Unhealthy.Interval > 0 || Time.GetTimestamp() - target.UnhealthySince < _recoveryTicks)
        {
            return false;
        }

        if (target.Readmit())
        {
            Changed(target, healthy: true, "recovery");
        }

        return true;
    }

    public void Changed(TargetHealth target, bool healthy, string check) => _runtime.TargetHealthChanged(Name, target.Target, healthy, check);
}
