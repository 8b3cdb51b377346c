using ServerlessGateway.Configuration;

namespace ServerlessGateway.Plugins;

/// <summary>
/// The plugins that may run on one route, in Kong's priority order. For each plugin name only the
/// most specific configured instance runs (Kong: consumer+route+service, consumer+route,
/// consumer+service, route+service, consumer, route, service, global); consumer-scoped instances are
/// chosen once authentication has named the consumer.
/// </summary>
internal sealed class PluginChain
{
    public static readonly PluginChain Empty = new([]);

    private PluginChain(Step[] steps) => Steps = steps;

    public Step[] Steps { get; }

    public bool IsEmpty => Steps.Length == 0;

    public sealed record Step(string Name, int Priority, GatewayPlugin[] Candidates)
    {
        /// <summary>The child span this step gets in a trace (authentication and rate limiting), or null.</summary>
        public string? SpanName { get; } = Name == "rate-limiting" ? "gateway.rate_limit"
            : PluginCatalog.Definitions.TryGetValue(Name, out var definition) && definition.IsAuthentication ? "gateway.authenticate"
            : null;

        public GatewayPlugin? Select(ConsumerConfig? consumer)
        {
            foreach (var candidate in Candidates)
            {
                var scope = candidate.Config.Consumer;
                if (scope is null || consumer is not null && (scope == consumer.Username || scope == consumer.CustomId || scope == consumer.Id))
                {
                    return candidate;
                }
            }

            return null;
        }
    }

    public static PluginChain For(RouteConfig route, string? serviceKey, IReadOnlyList<GatewayPlugin> plugins)
    {
        var steps = plugins
            .Where(p => p.Config.Enabled
                && (p.Config.Route is null || p.Config.Route == route.Key)
                && (p.Config.Service is null || p.Config.Service == serviceKey))
            .GroupBy(p => p.Config.Name, StringComparer.Ordinal)
            .Select(g => new Step(g.Key, PluginCatalog.Priorities[g.Key], g.OrderByDescending(p => Rank(p.Config)).ToArray()))
            .OrderByDescending(s => s.Priority)
            .ToArray();
        return steps.Length == 0 ? Empty : new PluginChain(steps);
    }

    private static int Rank(PluginConfig p) => (p.Consumer is not null, p.Route is not null, p.Service is not null) switch
    {
        (true, true, true) => 8,
        (true, true, false) => 7,
        (true, false, true) => 6,
        (false, true, true) => 5,
        (true, false, false) => 4,
        (false, true, false) => 3,
        (false, false, true) => 2,
        _ => 1,
    };
}
