using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

public sealed class RoutingTests
{
    private static string Example(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", name));

    [Fact(Timeout = 60_000)]
    public async Task Seed_without_plugins_routes_users_for_GET_and_POST_only_and_orders()
    {
        await using var users = await TestBackend.StartAsync();
        await using var orders = await TestBackend.StartAsync();
        var yaml = SeedWithoutPlugins()
            .Replace("http://user-service:3001", users.Url, StringComparison.Ordinal)
            .Replace("http://order-service:3002", orders.Url, StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(yaml);

        var get = await gateway.Client.GetAsync("/api/users/7?expand=true");
        var post = await gateway.Client.PostAsync("/api/users", new StringContent("{}"));
        var delete = await gateway.Client.DeleteAsync("/api/users/7");
        var order = await gateway.Client.GetAsync("/api/orders");

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("GET /7?expand=true", await get.Content.ReadAsStringAsync());
        Assert.Equal("POST /", await post.Content.ReadAsStringAsync());
        await Problem.AssertAsync(delete, HttpStatusCode.NotFound);
        Assert.Equal("GET /", await order.Content.ReadAsStringAsync());
        Assert.Equal(2, users.Requests.Count);
        Assert.Single(orders.Requests);
    }

    private static string SeedWithoutPlugins()
    {
        // The seed with its plugin blocks cut out: routing alone, no jwt credentials needed.
        var kept = new List<string>();
        var skipping = false;
        foreach (var line in Example("seed-kong.yaml").Split('\n'))
        {
            if (line.StartsWith("  plugins:", StringComparison.Ordinal))
            {
                skipping = true;
                continue;
            }

            if (skipping && line.StartsWith("- ", StringComparison.Ordinal))
            {
                skipping = false;
            }

            if (!skipping)
            {
                kept.Add(line);
            }
        }

        return string.Join('\n', kept);
    }

    [Fact(Timeout = 60_000)]
    public async Task Deck_dump_balances_over_both_targets_by_weight_and_preserves_host()
    {
        await using var a = await TestBackend.StartAsync();
        await using var b = await TestBackend.StartAsync();
        await using var users = await TestBackend.StartAsync();
        var yaml = WithoutKeyAuth(Example("deck-dump.yaml"))
            .Replace("orders-a.internal:3002", $"orders-a.internal:{a.Port}", StringComparison.Ordinal)
            .Replace("orders-b.internal:3002", $"orders-b.internal:{b.Port}", StringComparison.Ordinal)
            .Replace("port: 8080", $"port: {users.Port}", StringComparison.Ordinal);
        // The dump's host names resolve to loopback through an injected resolver.
        var resolver = new FakeResolver(_ => [IPAddress.Loopback]);
        await using var gateway = await TestGateway.StartAsync(yaml, s => s.AddSingleton<Forwarding.IUpstreamResolver>(resolver));

        for (var i = 0; i < 150; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/orders/list");
            request.Headers.Host = "api.example.com";
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var wildcard = new HttpRequestMessage(HttpMethod.Get, "/api/orders");
        wildcard.Headers.Host = "shop.example.org";
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(wildcard)).StatusCode);
        Assert.Equal(100 + 1, a.Requests.Count);
        Assert.Equal(50, b.Requests.Count);
        Assert.All(a.Requests.Take(100), r => Assert.Equal("api.example.com", r.Host));
        Assert.Equal("/list", a.Requests.First().RawTarget);

        // No host match: the orders route needs one of its hosts.
        await Problem.AssertAsync(await gateway.Client.GetAsync("/api/orders"), HttpStatusCode.NotFound);

        // users.internal:PORT/v1 with strip_path; the regex route keeps its path.
        Assert.Equal("GET /v1/9", await gateway.Client.GetStringAsync("/api/users/9"));
        // users-route (paths + methods) outranks the regex route (paths only) for GET, as in Kong;
        // for other methods the regex route matches and, with strip_path false, keeps the path.
        Assert.Equal("GET /v1/9/avatar", await gateway.Client.GetStringAsync("/api/users/9/avatar"));
        var put = await gateway.Client.PutAsync("/api/users/9/avatar", new StringContent("x"));
        Assert.Equal("PUT /v1/api/users/9/avatar", await put.Content.ReadAsStringAsync());
        Assert.Contains("users.internal", resolver.Lookups);
    }

    internal static string WithoutKeyAuth(string yaml)
    {
        var lines = yaml.Split('\n').ToList();
        var start = lines.FindIndex(l => l == "  plugins:");
        var end = lines.FindIndex(start, l => l.StartsWith("- connect_timeout", StringComparison.Ordinal));
        lines.RemoveRange(start, end - start);
        return string.Join("\n", lines);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("/s", "/api", true, false, "v0", "/api/x", "/s/x")]
    [InlineData("/s", "/api", false, false, "v0", "/api/x", "/s/api/x")]
    [InlineData("/s", "/api", false, false, "v1", "/api/x", "/sapi/x")]
    [InlineData("/s/", "/api/", true, false, "v1", "/api/x", "/s/x")]
    [InlineData(null, "/api", true, true, "v0", "/api", "/")]
    [InlineData("/s", "/api", true, true, "v0", "/api/./x/../y", "/s/y")]
    public async Task Strip_path_preserve_host_and_path_handling_reach_the_backend_as_Kong_sends_them(
        string? servicePath, string routePath, bool strip, bool preserveHost, string handling, string request, string expectedPath)
    {
        await using var backend = await TestBackend.StartAsync();
        var yaml = $"""
            _format_version: "3.0"
            services:
            - name: s
              url: {backend.Url}{servicePath}
              routes:
              - name: r
                paths: [{routePath}]
                strip_path: {strip.ToString().ToLowerInvariant()}
                preserve_host: {preserveHost.ToString().ToLowerInvariant()}
                path_handling: {handling}
            """;
        await using var gateway = await TestGateway.StartAsync(yaml);

        using var message = new HttpRequestMessage(HttpMethod.Get, request);
        message.Headers.Host = "client.example.com";
        var response = await gateway.Client.SendAsync(message);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(backend.Requests);
        Assert.Equal(expectedPath, seen.RawTarget);
        Assert.Equal(preserveHost ? "client.example.com" : $"127.0.0.1:{backend.Port}", seen.Host);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("/api%2Fusers")]
    [InlineData("/api/%5c..")]
    [InlineData("/api/%00")]
    public async Task Encoded_separators_and_nul_are_rejected_with_400(string path)
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync($"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"{backend.Url}\", routes: [{{name: r, paths: [/]}}]}}\n");

        var response = await RawHttp.GetAsync(gateway.BaseAddress, path);

        // Kestrel itself refuses some of these before the gateway sees them; either way, 400 and no forwarding.
        Assert.Equal(400, response.Status);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dot_segment_tricks_route_like_the_canonical_path()
    {
        await using var open = await TestBackend.StartAsync();
        await using var admin = await TestBackend.StartAsync();
        var yaml = $$"""
            _format_version: "3.0"
            services:
            - {name: open, url: "{{open.Url}}", routes: [{name: open, paths: [/public]}]}
            - {name: admin, url: "{{admin.Url}}", routes: [{name: admin, paths: [/internal], methods: [PUT]}]}
            """;
        await using var gateway = await TestGateway.StartAsync(yaml);

        // Each of these is /internal once canonical: it must not reach the open backend.
        foreach (var trick in new[] { "/public/../internal", "/public/%2e%2e/internal", "/public/.%2E/internal", "//public//..//internal", "/publ%69c/../internal" })
        {
            var response = await RawHttp.GetAsync(gateway.BaseAddress, trick);
            Assert.Equal(404, response.Status);
        }

        Assert.Empty(open.Requests);
        Assert.Empty(admin.Requests);
        var put = await RawHttp.SendAsync(gateway.BaseAddress, "PUT /public/%2e%2e/internal/x HTTP/1.1\nHost: gw.test\nContent-Length: 0\nConnection: close\n\n");
        Assert.Equal(200, put.Status);
        Assert.Equal("PUT /x", put.Body);
        Assert.Equal("GET /x", (await RawHttp.GetAsync(gateway.BaseAddress, "/public/y/%2E%2E/x")).Body);
    }

    [Fact(Timeout = 60_000)]
    public async Task No_config_answers_503_and_a_route_without_service_answers_503()
    {
        await using (var empty = await TestGateway.StartAsync(yaml: null))
        {
            await Problem.AssertAsync(await empty.Client.GetAsync("/anything"), HttpStatusCode.ServiceUnavailable);
        }

        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\nroutes:\n- {name: orphan, paths: [/orphan]}\n");
        var detail = await Problem.AssertAsync(await gateway.Client.GetAsync("/orphan"), HttpStatusCode.ServiceUnavailable);
        Assert.Contains("no service", detail, StringComparison.Ordinal);
    }
}
