namespace ServerlessGateway.Forwarding;

/// <summary>
/// Weighted round-robin over an upstream's targets (Kong's default algorithm). The schedule is
/// precomputed once as a smooth weighted round-robin sequence (nginx's algorithm: no target gets
/// a burst), so picking costs one interlocked increment and no lock.
/// </summary>
internal sealed class TargetBalancer
{
    private const int MaxSchedule = 65_536;
    private readonly string[] _schedule;
    private uint _next;

    public TargetBalancer(IReadOnlyList<(string Destination, int Weight)> targets)
    {
        var live = targets.Where(t => t.Weight > 0).ToArray();
        Destinations = live.Select(t => t.Destination).ToArray();
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

        _schedule = new string[total];
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
            _schedule[slot] = live[best].Destination;
        }
    }

    /// <summary>Destinations that can receive traffic (weight above zero), in config order.</summary>
    public IReadOnlyList<string> Destinations { get; }

    /// <summary>The next destination prefix (<c>scheme://host:port</c>), or null when no target can take traffic.</summary>
    public string? Next()
    {
        var schedule = _schedule;
        return schedule.Length switch
        {
            0 => null,
            1 => schedule[0],
            _ => schedule[(int)((Interlocked.Increment(ref _next) - 1) % (uint)schedule.Length)],
        };
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
