using Microsoft.AspNetCore.Http;
using ServerlessGateway.Runtime;
using ServerlessGateway.Tests.Configuration;

namespace ServerlessGateway.Tests.Routing;

/// <summary>Kong's router order, case by case.</summary>
public sealed class RouterPrecedenceTests
{
    private const string Config = """
        _format_version: "3.0"
        services:
        - name: s
          host: s.internal
          routes:
          - {name: prefix-api, paths: [/api]}
          - {name: prefix-api-users, paths: [/api/users]}
          - {name: exact-users-42, paths: [/api/users/42]}
          - {name: regex-low, paths: ["~/api/users/\\d+"], regex_priority: 0}
          - {name: regex-high, paths: ["~/api/users/(?<id>\\d+)/profile$"], regex_priority: 10}
          - {name: regex-first-declared, paths: ["~/api/orders/\\d+"]}
          - {name: regex-second-declared, paths: ["~/api/orders/[0-9]+"]}
          - {name: methods-post, paths: [/api], methods: [POST]}
          - {name: host-plain, paths: [/api], hosts: [api.example.com]}
          - {name: host-wild, paths: [/api], hosts: ["*.example.com"]}
          - {name: host-wild-suffix, paths: [/api], hosts: ["example.*"]}
          - {name: host-port, paths: [/api], hosts: ["ports.example.net:9000"]}
          - {name: header-1, paths: [/api], headers: {x-version: [v2]}}
          - {name: header-2, paths: [/api], headers: {x-version: [v2], x-tenant: [acme]}}
          - {name: header-regex, paths: [/beta], headers: {x-beta: ["~*^yes-\\d+$"]}}
          - {name: host-only, hosts: [only.example.com]}
          - {name: three-fields, paths: [/api], methods: [GET], hosts: [api.example.com]}
          - {name: root, paths: [/]}
        """;

    private static readonly GatewaySnapshot Snapshot = GatewaySnapshot.Compile(ParserTests.ParseValid(Config), "test");

    [Theory]
    [InlineData("GET", "gw.local", "/api/users", "", "prefix-api-users")]
    [InlineData("GET", "gw.local", "/api/other", "", "prefix-api")]
    [InlineData("GET", "gw.local", "/apix", "", "prefix-api")]
    [InlineData("GET", "gw.local", "/api/users/42", "", "exact-users-42")]
    [InlineData("GET", "gw.local", "/api/users/43", "", "regex-low")]
    [InlineData("GET", "gw.local", "/api/users/43/profile", "", "regex-high")]
    [InlineData("GET", "gw.local", "/api/users/42/profile", "", "regex-high")]
    [InlineData("GET", "gw.local", "/api/users/abc", "", "prefix-api-users")]
    [InlineData("GET", "gw.local", "/api/orders/7", "", "regex-first-declared")]
    [InlineData("POST", "gw.local", "/api/users", "", "methods-post")]
    [InlineData("GET", "api.example.com", "/api/x", "", "three-fields")]
    [InlineData("POST", "api.example.com", "/api/x", "", "host-plain")]
    [InlineData("POST", "api.example.com:8443", "/api/x", "", "host-plain")]
    [InlineData("POST", "API.Example.COM", "/api/x", "", "host-plain")]
    [InlineData("GET", "a.example.com", "/api/x", "", "host-wild")]
    [InlineData("GET", "a.b.example.com", "/api/x", "", "host-wild")]
    [InlineData("GET", "example.org", "/api/x", "", "host-wild-suffix")]
    [InlineData("GET", "ports.example.net:9000", "/api/x", "", "host-port")]
    [InlineData("GET", "ports.example.net:9001", "/api/x", "", "prefix-api")]
    // Same priority (paths+methods vs paths+wildcard host): the route declared first wins, as in Kong.
    [InlineData("POST", "a.example.com", "/api/x", "", "methods-post")]
    [InlineData("GET", "api.example.com", "/other", "x-version=v2", "root")]
    [InlineData("DELETE", "api.example.com", "/api/x", "x-version=v2", "host-plain")]
    [InlineData("DELETE", "gw.local", "/api/x", "x-version=v2", "header-1")]
    [InlineData("DELETE", "gw.local", "/api/x", "x-version=V2", "header-1")]
    [InlineData("DELETE", "gw.local", "/api/x", "x-version=v2;x-tenant=acme", "header-2")]
    [InlineData("DELETE", "gw.local", "/api/x", "x-version=v3", "prefix-api")]
    [InlineData("GET", "gw.local", "/beta", "x-beta=YES-12", "header-regex")]
    [InlineData("GET", "gw.local", "/beta", "x-beta=yes-x", "root")]
    [InlineData("GET", "only.example.com", "/anything", "", "host-only")]
    [InlineData("GET", "gw.local", "/anything", "", "root")]
    public void Matches_in_Kongs_order(string method, string host, string path, string headers, string expected)
    {
        var requestHeaders = new HeaderDictionary();
        foreach (var pair in headers.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, value) = (pair.Split('=')[0], pair.Split('=')[1]);
            requestHeaders[name] = value;
        }

        var colon = host.IndexOf(':', StringComparison.Ordinal);
        var port = colon < 0 ? 80 : int.Parse(host[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var hostName = colon < 0 ? host : host[..colon];

        var matched = Snapshot.Router.TryMatch(method, hostName, port, path, requestHeaders, out var match);

        Assert.True(matched);
        Assert.Equal(expected, match.Route.Config.Name);
    }

    [Fact]
    public void No_route_means_no_match()
    {
        var snapshot = GatewaySnapshot.Compile(ParserTests.ParseValid("_format_version: \"3.0\"\nroutes:\n- {name: r, paths: [/only], methods: [GET]}\n"), "t");

        Assert.False(snapshot.Router.TryMatch("GET", "h", 80, "/other", new HeaderDictionary(), out _));
        Assert.False(snapshot.Router.TryMatch("POST", "h", 80, "/only", new HeaderDictionary(), out _));
        Assert.True(snapshot.Router.TryMatch("GET", "h", 80, "/only/x", new HeaderDictionary(), out _));
    }

    [Fact]
    public void Regex_match_exposes_named_captures_and_its_length()
    {
        Snapshot.Router.TryMatch("GET", "h", 80, "/api/users/7/profile", new HeaderDictionary(), out var match);

        Assert.Equal("7", match.RegexMatch!.Groups["id"].Value);
        Assert.Equal("/api/users/7/profile".Length, match.MatchedLength);
    }

    [Fact]
    public void Routes_of_a_disabled_service_are_not_served()
    {
        var snapshot = GatewaySnapshot.Compile(ParserTests.ParseValid("""
            _format_version: "3.0"
            services:
            - {name: off, host: off.internal, enabled: false, routes: [{name: r, paths: [/x]}]}
            """), "t");

        Assert.False(snapshot.Router.TryMatch("GET", "h", 80, "/x", new HeaderDictionary(), out _));
    }
}
