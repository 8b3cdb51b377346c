using Polly;
using ServerlessGateway.Resilience;

namespace ServerlessGateway.Forwarding;

/// <summary>One target as a service reaches it: destination prefix, its health and its circuit breaker.</summary>
internal sealed class BalancedTarget(string destination, string authority, TargetHealth? health = null, ResiliencePipeline<AttemptResult>? breaker = null)
{
    /// <summary><c>scheme://host:port</c>.</summary>
    public string Destination { get; } = destination;

    /// <summary><c>host:port</c>: the key of the target's breaker, logs and metrics.</summary>
    public string Authority { get; } = authority;

    public TargetHealth? Health { get; } = health;

    public ResiliencePipeline<AttemptResult>? Breaker { get; } = breaker;

    public bool IsAvailable => Health is null || Health.IsAvailable();
}

/// <summary>
/// Weighted round-robin over an upstream's targets (Kong's default algorithm). The schedule is
/// precomputed once as a smooth weighted round-robin sequence (nginx's algorithm: no target gets
/// a burst), so picking costs one interlocked increment and no lock. Targets that health checks
/// took out are skipped; when none is left, there is no peer (Kong answers 503).
/// </summary>
internal sealed class TargetBalancer
{
    private const int MaxSchedule = 65_536;
    /// <summary>Schedule slots tried past an unhealthy pick before scanning the targets in order.</summary>
    private const int SlotsToTry = 16;
    private readonly BalancedTarget[] _schedule;
    private readonly BalancedTarget[] _targets;
    private readonly bool _checked;
    private uint _next;

    public TargetBalancer(IReadOnlyList<(string Destination, int Weight)> targets)
        : this(targets.Select(t => (new BalancedTarget(t.Destination, t.Destination), t.Weight)).ToArray())
    {
    }

    public TargetBalancer(IReadOnlyList<(BalancedTarget Target, int Weight)> targets)
    {
        var live = targets.Where(t => t.Weight > 0).ToArray();
        _targets = live.Select(t => t.Target).ToArray();
        _checked = _targets.Any(t => t.Health is not null);
        Destinations = _targets.Select(t => t.Destination).ToArray();
        if (live.Length == 0)
        {
            _schedule = [];
            return;
        }

        var gcd = live.Select(t => t.Weight).Aggregate(Gcd);
        var weights = live.Select(t => t.Weight / gcd).ToArray();
        var total = weights.Sum(w => (long)w);
        if (total > MaxSchedule)
        {
            // Keep proportions within the schedule bound; every live target keeps at least one slot.
            weights = weights.Select(w => Math.Max(1, (int)(w * (long)MaxSchedule / total))).ToArray();
            total = weights.Sum(w => (long)w);
        }

        _schedule = new BalancedTarget[total];
        var current = new long[weights.Length];
        for (var slot = 0; slot < total; slot++)
        {
            var best = 0;
            for (var i = 0; i < weights.Length; i++)
            {
                current[i] += weights[i];
                if (current[i] > current[best])
                {
                    best = i;
                }
            }

            current[best] -= total;
            _schedule[slot] = live[best].Target;
        }
    }

    /// <summary>Destinations that can receive traffic (weight above zero), in config order.</summary>
    public IReadOnlyList<string> Destinations { get; }

    /// <summary>Targets with weight above zero, in config order.</summary>
    public IReadOnlyList<BalancedTarget> Targets => _targets;

    /// <summary>The next destination prefix (<c>scheme://host:port</c>), or null when no target can take traffic.</summary>
    public string? Next() => Pick()?.Destination;

    /// <summary>The next target that can take traffic, or null when none can.</summary>
    public BalancedTarget? Pick()
    {
        var schedule = _schedule;
        if (schedule.Length == 0)
        {
            return null;
        }

        var slot = schedule.Length == 1 ? 0 : Interlocked.Increment(ref _next) - 1;
        var pick = schedule[(int)(slot % (uint)schedule.Length)];
        if (!_checked || pick.IsAvailable)
        {
            return pick;
        }

        for (var i = 1u; i < SlotsToTry && i < schedule.Length; i++)
        {
            pick = schedule[(int)((slot + i) % (uint)schedule.Length)];
            if (pick.IsAvailable)
            {
                return pick;
            }
        }

        foreach (var target in _targets)
        {
            if (target.IsAvailable)
            {
                return target;
            }
        }

        return null;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
