using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace ServerlessGateway.Routing;

/// <summary>
/// Kong's router order over a precompiled, immutable table (Kong 3.x traditional_compatible,
/// kong/router/transform.lua get_priority): routes using more of methods/hosts/headers/paths come
/// first, then routes whose hosts are all plain, then more headers. Within such a group: a plain path
/// equal to the request path, then regex paths by regex_priority (higher first), then prefix paths
/// longest first; config order breaks ties. Each path of a route is its own candidate.
/// Matching allocates nothing unless a regex matches (its Match carries the captures).
/// </summary>
internal sealed class Router
{
    private readonly Group[] _groups;

    public Router(IReadOnlyList<CompiledRoute> routes)
    {
        var candidates = new List<Candidate>();
        for (var order = 0; order < routes.Count; order++)
        {
            var route = routes[order];
            var weight = (route.Methods.Length > 0 ? 1 : 0) + (route.Hosts.Length > 0 ? 1 : 0)
                + (route.Headers.Length > 0 ? 1 : 0) + (route.Config.Paths.Count > 0 ? 1 : 0);
            var plainHostOnly = route.Hosts.Length > 0 && route.Hosts.All(h => h.Kind == HostPatternKind.Plain);
            var key = new GroupKey(weight, plainHostOnly, route.Headers.Length);
            if (route.Config.Paths.Count == 0)
            {
                candidates.Add(new Candidate(key, route, order, Prefix: "", Regex: null, route.Config.RegexPriority));
                continue;
            }

            foreach (var path in route.Config.Paths)
            {
                if (path.StartsWith('~'))
                {
                    RoutePathRegex.TryCompile(path[1..], out var regex, out _);
                    candidates.Add(new Candidate(key, route, order, Prefix: null, regex, route.Config.RegexPriority));
                }
                else
                {
                    candidates.Add(new Candidate(key, route, order, path, Regex: null, route.Config.RegexPriority));
                }
            }
        }

        _groups = candidates
            .GroupBy(c => c.Key)
            .OrderByDescending(g => g.Key.Weight)
            .ThenByDescending(g => g.Key.PlainHostOnly)
            .ThenByDescending(g => g.Key.HeaderCount)
            .Select(g => new Group(g))
            .ToArray();
    }

    public bool TryMatch(string method, ReadOnlySpan<char> host, int port, string path, IHeaderDictionary headers, out RouteMatch match)
    {
        foreach (var group in _groups)
        {
            if (group.TryMatch(method, host, port, path, headers, out match))
            {
                return true;
            }
        }

        match = default;
        return false;
    }

    private readonly record struct GroupKey(int Weight, bool PlainHostOnly, int HeaderCount);

    /// <summary>Prefix = null means a regex path; "" means the route has no paths (matches any).</summary>
    private sealed record Candidate(GroupKey Key, CompiledRoute Route, int Order, string? Prefix, Regex? Regex, int RegexPriority)
    {
        public bool MatchesRest(string method, ReadOnlySpan<char> host, int port, IHeaderDictionary headers) =>
            Route.MatchesMethod(method) && Route.MatchesHost(host, port) && Route.MatchesHeaders(headers);
    }

    private sealed class Group
    {
        private readonly Dictionary<string, Candidate[]> _exact;
        private readonly Candidate[] _ordered;

        public Group(IEnumerable<Candidate> candidates)
        {
            var list = candidates.ToList();
            _exact = list.Where(c => c.Prefix is { Length: > 0 })
                .GroupBy(c => c.Prefix!, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.OrderBy(c => c.Order).ToArray(), StringComparer.Ordinal);
            _ordered = list
                .OrderBy(c => c.Regex is null ? 1 : 0)
                .ThenByDescending(c => c.Regex is null ? 0 : c.RegexPriority)
                .ThenByDescending(c => c.Prefix?.Length ?? 0)
                .ThenBy(c => c.Order)
                .ToArray();
        }

        public bool TryMatch(string method, ReadOnlySpan<char> host, int port, string path, IHeaderDictionary headers, out RouteMatch match)
        {
            if (_exact.TryGetValue(path, out var exact))
            {
                foreach (var candidate in exact)
                {
                    if (candidate.MatchesRest(method, host, port, headers))
                    {
                        match = new RouteMatch(candidate.Route, path.Length, null);
                        return true;
                    }
                }
            }

            foreach (var candidate in _ordered)
            {
                if (candidate.Regex is { } regex)
                {
                    if (!candidate.MatchesRest(method, host, port, headers))
                    {
                        continue;
                    }

                    Match m;
                    try
                    {
                        m = regex.Match(path);
                    }
                    catch (RegexMatchTimeoutException)
                    {
                        continue;
                    }

                    if (m.Success)
                    {
                        match = new RouteMatch(candidate.Route, m.Length, m);
                        return true;
                    }
                }
                else if (path.StartsWith(candidate.Prefix!, StringComparison.Ordinal) && candidate.MatchesRest(method, host, port, headers))
                {
                    match = new RouteMatch(candidate.Route, candidate.Prefix!.Length, null);
                    return true;
                }
            }

            match = default;
            return false;
        }
    }
}
