using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>The rate-limiting plugin on real requests (DB-less, policy local): headers, 429s and what reaches the backend.</summary>
public sealed class RateLimitingTests
{
    private static string Config(string backendUrl, string rateLimiting, string? auth = null) => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{{backendUrl}}"
          routes:
          - name: r
            paths: [/api]
          plugins:
          {{(auth is null ? "" : $"- name: {auth}\n  ")}}- name: rate-limiting
            config: {{rateLimiting}}
        consumers:
        - username: alice
          keyauth_credentials: [{key: alice-key-0001}]
        - username: bob
          keyauth_credentials: [{key: bob-key-0002}]
        """;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Fact(Timeout = 60_000)]
    public async Task Admitted_responses_carry_every_rate_limit_header_next_to_the_backends_and_the_429_says_when_to_retry()
    {
        // Arrange
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{hour: 3, day: 10}"));

        // Act
        var first = await gateway.Client.GetAsync("/api/a");
        await gateway.Client.GetAsync("/api/b");
        await gateway.Client.GetAsync("/api/c");
        var refused = await gateway.Client.GetAsync("/api/d");

        // Assert: headers set before forwarding survive next to the backend's own.
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.NotNull(Header(first, "X-Backend-Port"));
        Assert.Equal("3", Header(first, "X-RateLimit-Limit-Hour"));
        Assert.Equal("2", Header(first, "X-RateLimit-Remaining-Hour"));
        Assert.Equal("10", Header(first, "X-RateLimit-Limit-Day"));
        Assert.Equal("9", Header(first, "X-RateLimit-Remaining-Day"));
        Assert.Equal("3", Header(first, "RateLimit-Limit"));
        Assert.Equal("2", Header(first, "RateLimit-Remaining"));
        var reset = long.Parse(Header(first, "RateLimit-Reset")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(reset, 1, 3600);
        Assert.Equal("\"hour\";q=3;w=3600, \"day\";q=10;w=86400", Header(first, "RateLimit-Policy"));
        Assert.Matches("^\"hour\";r=2;t=[0-9]+$", Header(first, "RateLimit"));

        var detail = await Problem.AssertAsync(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("API rate limit exceeded", detail);
        var retryAfter = long.Parse(Header(refused, "Retry-After")!, System.Globalization.CultureInfo.InvariantCulture);
        var resetOnRefusal = long.Parse(Header(refused, "RateLimit-Reset")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(retryAfter >= resetOnRefusal, $"Retry-After {retryAfter} is earlier than the reset {resetOnRefusal}");
        Assert.Equal("0", Header(refused, "X-RateLimit-Remaining-Hour"));
        Assert.Equal(3, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Error_code_error_message_and_hidden_headers()
    {
        // Arrange
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{minute: 1, error_code: 403, error_message: \"Quota used up\", hide_client_headers: true}"));

        // Act
        var first = await gateway.Client.GetAsync("/api/a");
        var refused = await gateway.Client.GetAsync("/api/a");

        // Assert
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.DoesNotContain(first.Headers, h => h.Key.StartsWith("X-RateLimit", StringComparison.OrdinalIgnoreCase) || h.Key.StartsWith("RateLimit", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("Quota used up", await Problem.AssertAsync(refused, HttpStatusCode.Forbidden));
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.DoesNotContain(refused.Headers, h => h.Key.StartsWith("RateLimit", StringComparison.OrdinalIgnoreCase));
        Assert.Single(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Limit_by_consumer_follows_the_key_auth_identity_not_identity_headers_from_the_client()
    {
        // Arrange
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{minute: 2, limit_by: consumer}", auth: "key-auth"));

        async Task<HttpResponseMessage> SendAsync(string key, string? forgedConsumer = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/x");
            request.Headers.Add("apikey", key);
            if (forgedConsumer is not null)
            {
                request.Headers.Add("X-Consumer-ID", forgedConsumer);
                request.Headers.Add("X-Consumer-Username", forgedConsumer);
            }

            return await gateway.Client.SendAsync(request);
        }

        // Act
        var alice1 = await SendAsync("alice-key-0001");
        var alice2 = await SendAsync("alice-key-0001", forgedConsumer: "bob");
        var alice3 = await SendAsync("alice-key-0001", forgedConsumer: "someone-else");
        var bob1 = await SendAsync("bob-key-0002");

        // Assert
        Assert.Equal(HttpStatusCode.OK, alice1.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alice2.StatusCode);
        await Problem.AssertAsync(alice3, HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, bob1.StatusCode);
        Assert.Equal("1", Header(bob1, "X-RateLimit-Remaining-Minute"));
    }

    [Fact(Timeout = 60_000)]
    public async Task The_seed_config_imports_unchanged_and_limits_the_users_route()
    {
        // Arrange: the seed as shipped (policy redis, no store configured: counted per instance), pointed at the backend.
        await using var backend = await TestBackend.StartAsync();
        var seed = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", "seed-kong.yaml"))
            .Replace("http://user-service:3001", backend.Url, StringComparison.Ordinal)
            .Replace("http://order-service:3002", backend.Url, StringComparison.Ordinal);
        var parsed = Configuration.KongDeclarativeParser.Parse(seed);

        // Act
        await using var gateway = await TestGateway.StartAsync(seed);
        var unauthenticated = await gateway.Client.GetAsync("/api/users");

        // Assert: every plugin of the seed is built and imports; jwt answers first (priority 1450 > 910).
        Assert.Empty(parsed.Errors);
        Assert.Equal(["jwt", "rate-limiting", "jwt", "request-transformer"], parsed.Config!.Plugins.Select(p => p.Name));
        await Problem.AssertAsync(unauthenticated, HttpStatusCode.Unauthorized);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_redis_password_in_an_imported_kong_file_is_not_kept_in_the_config_export_or_history()
    {
        // Arrange
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var kong = Config(backend.Url, "{minute: 5, policy: redis, redis: {host: cache.internal, port: 6379, password: s3cret-redis-pass}, redis_password: s3cret-legacy-pass}");

        // Act
        var import = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", kong, "application/yaml"));
        var export = await (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"))).Content.ReadAsStringAsync();
        var imported = await JsonAsync(import);
        var version = imported["version"]!.GetValue<long>();
        var history = await (await gateway.Client.SendAsync(Admin(HttpMethod.Get, $"/_gateway/config/history/{version}"))).Content.ReadAsStringAsync();
        var limited = await gateway.Client.GetAsync("/api/x");

        // Assert
        Assert.Equal(HttpStatusCode.Created, import.StatusCode);
        // The import answers with its warnings: the redis settings are accepted and ignored, named by path.
        var warnings = imported["warnings"]!.AsArray().Select(w => w!["path"]!.GetValue<string>()).ToList();
        Assert.Contains(warnings, p => p.EndsWith(".config.redis", StringComparison.Ordinal));
        Assert.DoesNotContain("s3cret", imported.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("rate-limiting", export, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", export, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", history, StringComparison.Ordinal);
        Assert.Equal("5", Header(limited, "X-RateLimit-Limit-Minute"));
    }
}
