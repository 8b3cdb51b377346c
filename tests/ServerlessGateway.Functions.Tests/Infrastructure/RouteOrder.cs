namespace ServerlessGateway.Functions.Tests.Infrastructure;

/// <summary>
/// The rule the host's "sorted by name, first route match wins" imposes: a function whose catch-all route
/// covers another function's route must sort after it, or it would take that function's requests.
/// </summary>
internal static class RouteOrder
{
    public static IReadOnlyList<string> Violations(IReadOnlyList<FunctionDescription> httpFunctions, StringComparer order)
    {
        var violations = new List<string>();
        foreach (var catchAll in httpFunctions.Where(f => f.HttpTrigger!.IsCatchAll))
        {
            var prefix = catchAll.HttpTrigger!.Segments[..^1];
            foreach (var other in httpFunctions.Where(f => !ReferenceEquals(f, catchAll)))
            {
                var segments = other.HttpTrigger!.Segments;
                var covered = segments.Length >= prefix.Length
                    && prefix.Select((s, i) => string.Equals(s, segments[i], StringComparison.OrdinalIgnoreCase)).All(same => same);
                if (covered && order.Compare(other.Name, catchAll.Name) >= 0)
                {
                    violations.Add($"'{other.Name}' ({other.HttpTrigger.Route}) sorts after '{catchAll.Name}' ({catchAll.HttpTrigger.Route}), which would take its requests");
                }
            }
        }

        return violations;
    }
}
