using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Encoding and normalization tricks against a key-auth protected prefix route (/admin-api), an open prefix route
/// (/public) and a regex route (~/items/\d+$), none with strip_path so the upstream path is the canonical path.
/// For each raw request target: the status, which backend (if any) saw it, and the path it saw. No trick may reach
/// the protected backend without a key, or land on another route than its canonical path does.
/// </summary>
public sealed class PathAbuseTests
{
    private const string Key = "path-abuse-key-0001";

    public static TheoryData<string, int, string?, string?> Cases => new()
    {
        // Controls: the canonical paths themselves.
        { "/admin-api", 401, null, null },
        { "/admin-api/users", 401, null, null },
        { "/public/x", 200, "public", "/public/x" },
        { "/items/12", 200, "items", "/items/12" },
        // Duplicate slashes and dot segments, plain and encoded: canonical /admin-api, so key-auth applies.
        { "//admin-api", 401, null, null },
        { "/./admin-api", 401, null, null },
        { "/public/../admin-api", 401, null, null },
        { "/public/%2e%2e/admin-api", 401, null, null },
        { "/public/%2E%2E/admin-api", 401, null, null },
        { "/public/.%2e/admin-api", 401, null, null },
        { "/%2e%2e/%2e%2e/admin-api", 401, null, null },
        { "/public//..//admin-api", 401, null, null },
        { "/public;/../admin-api", 401, null, null },
        { "/items/12/../../admin-api", 401, null, null },
        { "/%61dmin-api", 401, null, null },
        { "/admin%2Dapi", 401, null, null },
        // Suffixes a prefix route still covers.
        { "/admin-api.", 401, null, null },
        { "/admin-api;x=1", 401, null, null },
        { "/admin-api%3Bx=1", 401, null, null },
        { "/admin-api%20", 401, null, null },
        { "/admin-api%09", 401, null, null },
        // Encoded separators and NUL: refused outright (a backend might decode them into a different path).
        { "/public/..%2fadmin-api", 400, null, null },
        { "/public/..%2Fadmin-api", 400, null, null },
        { "/public%2F..%2Fadmin-api", 400, null, null },
        { "/public/%2e%2e%2fadmin-api", 400, null, null },
        { "/public/..%5Cadmin-api", 400, null, null },
        { "/public/..\\admin-api", 400, null, null },
        { "/admin-api%00", 400, null, null },
        { "/public/%00/../admin-api", 400, null, null },
        { "/public/%", 400, null, null },
        { "/public/%2", 400, null, null },
        { "/public/%zz", 400, null, null },
        { "/public/%u002e%u002e/admin-api", 400, null, null },
        // Dot segments with ';' parameters: servlet containers read "..;" as "..", so they are refused.
        { "/public/..;/admin-api", 400, null, null },
        { "/public/..;x=1/admin-api", 400, null, null },
        { "/public/%2e%2e;/admin-api", 400, null, null },
        { "/public/.;/admin-api", 400, null, null },
        { "/public/..%3B/admin-api", 200, "public", "/public/..%3B/admin-api" },
        // A fragment cannot be sent; a query is no part of the path.
        { "/public#/../admin-api", 400, null, null },
        { "/public?x=/../admin-api", 200, "public", "/public?x=/../admin-api" },
        // Raw white space and controls cannot even form a request line.
        { "/public/\t../admin-api", 400, null, null },
        { "/public/\u007f/../admin-api", 400, null, null },
        // Not dot segments once canonical: they stay on the route their canonical path names, kept encoded.
        { "/public/%252e%252e/admin-api", 200, "public", "/public/%252e%252e/admin-api" },
        { "/public/%c0%ae%c0%ae/admin-api", 200, "public", "/public/%C0%AE%C0%AE/admin-api" },
        { "/public/%e0%80%ae%e0%80%ae/admin-api", 200, "public", "/public/%E0%80%AE%E0%80%AE/admin-api" },
        { "/public/...", 200, "public", "/public/..." },
        { "/public/%2e", 200, "public", "/public/" },
        { "/public/%09/../admin-api", 200, "public", "/public/admin-api" },
        { "/admin-api/../public", 200, "public", "/public" },
        { "/admin-api/%2e%2e/public/x", 200, "public", "/public/x" },
        // Case-sensitive matching, as in Kong: other case, no route.
        { "/ADMIN-API", 404, null, null },
        { "/Admin-Api", 404, null, null },
        { "/%41dmin-api", 404, null, null },
        { "/PUBLIC/x", 404, null, null },
        // The regex route sees the canonical path: decoded digits match, tricks do not.
        { "/items/%31%32", 200, "items", "/items/12" },
        { "/public/../items/7", 200, "items", "/items/7" },
        { "/items/7/", 404, null, null },
        { "/items/7%0A", 404, null, null },
        { "/items/7%2F", 400, null, null },
        { "/items/7;/../../admin-api", 401, null, null },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Cases))]
    public async Task Encoding_tricks_route_like_their_canonical_path_and_never_skip_key_auth(string target, int status, string? backend, string? upstreamPath)
    {
        await using var admin = await TestBackend.StartAsync();
        await using var open = await TestBackend.StartAsync();
        await using var items = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(admin, open, items));
        var backends = new Dictionary<string, TestBackend> { ["admin"] = admin, ["public"] = open, ["items"] = items };

        var response = await RawHttp.SendAsync(gateway.BaseAddress, $"GET {target} HTTP/1.1\nHost: gw.test\nConnection: close\n\n");

        Assert.Equal(status, response.Status);
        foreach (var (name, seenBy) in backends)
        {
            if (name == backend)
            {
                Assert.Equal(upstreamPath, Assert.Single(seenBy.Requests).RawTarget);
            }
            else
            {
                Assert.Empty(seenBy.Requests);
            }
        }

        // The protected route does work with a key: a 401 above is key-auth's, not a dead route.
        var keyed = await RawHttp.GetAsync(gateway.BaseAddress, "/admin-api/ok", $"apikey: {Key}", "Connection: close");
        Assert.Equal(200, keyed.Status);
        Assert.Equal("/admin-api/ok", Assert.Single(admin.Requests).RawTarget);
    }

    public static TheoryData<string, int> ManagementSpellings => new()
    {
        // Kestrel itself decodes %5F and %2E and resolves dot segments, so these reach the management API, which wants a key.
        { "/_gateway/config", 401 },
        { "/%5Fgateway/config", 401 },
        { "/%5fgateway/health", 200 },
        { "/./_gateway/config", 401 },
        { "/x/../_gateway/config", 401 },
        { "/x/%2e%2e/_gateway/config", 401 },
        // Spellings only the gateway's canonicalizer resolves: refused, never forwarded to the catch-all route.
        { "//_gateway/config", 400 },
        { "///_gateway/health", 400 },
        { "//_gateway", 400 },
        { "/_gateway%2Fconfig", 400 },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(ManagementSpellings))]
    public async Task Spellings_of_the_management_path_reach_the_authenticated_api_or_nothing(string target, int status)
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - name: everything
              url: "{{backend.Url}}"
              routes: [{name: catch-all, paths: [/]}]
            """, settings: new Dictionary<string, string?> { ["Gateway:Admin:Keys:0"] = "path-abuse-admin-key-0001" });

        var response = await RawHttp.SendAsync(gateway.BaseAddress, $"GET {target} HTTP/1.1\nHost: gw.test\nConnection: close\n\n");

        Assert.Equal(status, response.Status);
        Assert.Empty(backend.Requests);
    }

    private static string Config(TestBackend admin, TestBackend open, TestBackend items) => $$"""
        _format_version: "3.0"
        services:
        - name: admin
          url: "{{admin.Url}}"
          routes: [{name: admin, paths: [/admin-api], strip_path: false}]
          plugins: [{name: key-auth}]
        - name: public
          url: "{{open.Url}}"
          routes: [{name: public, paths: [/public], strip_path: false}]
        - name: items
          url: "{{items.Url}}"
          routes: [{name: items, paths: ['~/items/\d+$'], strip_path: false}]
        consumers:
        - username: operator
          keyauth_credentials: [{key: {{Key}}}]
        """;
}
