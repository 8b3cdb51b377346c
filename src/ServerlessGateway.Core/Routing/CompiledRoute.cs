using System.Text.RegularExpressions;
using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Routing;

/// <summary>A route compiled for matching and forwarding; immutable, shared by all requests of a snapshot.</summary>
internal sealed class CompiledRoute
{
    public required RouteConfig Config { get; init; }
    /// <summary>Null when the route has no service: such a route answers 503, as in Kong.</summary>
    public required ServiceRuntime? Service { get; init; }
    public required string[] Methods { get; init; }
    public required HostPattern[] Hosts { get; init; }
    public required HeaderCondition[] Headers { get; init; }
    public required Plugins.PluginChain Plugins { get; init; }

    public bool MatchesMethod(string method)
    {
        if (Methods.Length == 0)
        {
            return true;
        }

        foreach (var m in Methods)
        {
            if (string.Equals(m, method, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    public bool MatchesHost(ReadOnlySpan<char> host, int port)
    {
        if (Hosts.Length == 0)
        {
            return true;
        }

        foreach (var pattern in Hosts)
        {
            if (pattern.Matches(host, port))
            {
                return true;
            }
        }

        return false;
    }

    public bool MatchesHeaders(Microsoft.AspNetCore.Http.IHeaderDictionary headers)
    {
        foreach (var condition in Headers)
        {
            if (!condition.Matches(headers))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One of a route's hosts: plain, <c>*.suffix</c> or <c>prefix.*</c>, with an optional port.</summary>
internal sealed class HostPattern
{
    private readonly string _text;
    private readonly int _port;

    public HostPattern(string configured)
    {
        var host = configured.ToLowerInvariant();
        var colon = host.LastIndexOf(':');
        if (colon > 0 && !host.EndsWith(']'))
        {
            _port = int.Parse(host.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
            host = host[..colon];
        }

        if (host.StartsWith("*.", StringComparison.Ordinal))
        {
            Kind = HostPatternKind.WildcardPrefix;
            _text = host[1..]; // ".example.com"
        }
        else if (host.EndsWith(".*", StringComparison.Ordinal))
        {
            Kind = HostPatternKind.WildcardSuffix;
            _text = host[..^1]; // "example."
        }
        else
        {
            _text = host;
        }
    }

    public HostPatternKind Kind { get; }

    public bool Matches(ReadOnlySpan<char> host, int port)
    {
        if (_port != 0 && _port != port)
        {
            return false;
        }

        return Kind switch
        {
            HostPatternKind.WildcardPrefix => host.Length > _text.Length && host.EndsWith(_text, StringComparison.OrdinalIgnoreCase),
            HostPatternKind.WildcardSuffix => host.Length > _text.Length && host.StartsWith(_text, StringComparison.OrdinalIgnoreCase),
            _ => host.Equals(_text, StringComparison.OrdinalIgnoreCase),
        };
    }
}

internal enum HostPatternKind { Plain, WildcardPrefix, WildcardSuffix }

/// <summary>A route header condition: any listed value matches, case-insensitively; <c>~*</c> values are regexes.</summary>
internal sealed class HeaderCondition(string name, string[] values, Regex[] patterns)
{
    public string Name { get; } = name;

    public bool Matches(Microsoft.AspNetCore.Http.IHeaderDictionary headers)
    {
        var actual = headers[Name];
        foreach (var value in actual)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var v in values)
            {
                if (string.Equals(v, value, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            foreach (var p in patterns)
            {
                try
                {
                    if (p.IsMatch(value))
                    {
                        return true;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    // A value crafted to be slow never matches.
                }
            }
        }

        return false;
    }

    public static HeaderCondition Create(string name, IReadOnlyList<string> configured)
    {
        var plain = new List<string>();
        var regexes = new List<Regex>();
        foreach (var value in configured)
        {
            if (value.StartsWith("~*", StringComparison.Ordinal))
            {
                regexes.Add(new Regex(value[2..], RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RoutePathRegex.MatchTimeout));
            }
            else
            {
                plain.Add(value);
            }
        }

        return new HeaderCondition(name, [.. plain], [.. regexes]);
    }
}
