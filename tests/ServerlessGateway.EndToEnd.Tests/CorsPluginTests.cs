using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong's cors plugin on real requests: preflights the gateway answers, and CORS headers on the backend's responses.</summary>
public sealed class CorsPluginTests
{
    private const string KongMethods = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT";

    private static string Config(string backendUrl, string corsConfig, string extraPlugins = "") => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{{backendUrl}}"
          routes:
          - name: r
            paths: [/api]
          plugins:
          - name: cors
            config: {{corsConfig}}
        {{extraPlugins}}
        consumers:
        - username: alice
          keyauth_credentials: [{key: alice-key-0001}]
        """;

    private static HttpRequestMessage Preflight(string origin, string method = "PUT", string? requestHeaders = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/api/items");
        request.Headers.TryAddWithoutValidation("Origin", origin);
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", method);
        if (requestHeaders is not null)
        {
            request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", requestHeaders);
        }

        return request;
    }

    private static HttpRequestMessage Actual(string? origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/items");
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }

        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    private static string[] CorsHeaders(HttpResponseMessage response) =>
        [.. response.Headers.Select(h => h.Key).Where(k => k.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase))];

    [Fact(Timeout = 60_000)]
    public async Task A_preflight_is_answered_by_the_gateway_and_never_reaches_the_backend()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://app.example.com\", \"https://admin.example.com\"], credentials: true, max_age: 600}"));

        using var request = Preflight("https://app.example.com", requestHeaders: "X-Custom, Content-Type");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsStringAsync());
        Assert.Equal("https://app.example.com", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal(KongMethods, Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal("X-Custom, Content-Type", Header(response, "Access-Control-Allow-Headers"));
        Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Contains("Origin", Header(response, "Vary"), StringComparison.Ordinal);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Configured_methods_and_headers_replace_Kongs_defaults_and_the_echo_in_a_preflight()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"*\"], methods: [GET, POST], headers: [Authorization, Content-Type]}"));

        using var request = Preflight("https://any.example", "POST", "X-Not-Listed");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("*", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET,POST", Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal("Authorization,Content-Type", Header(response, "Access-Control-Allow-Headers"));
        Assert.Null(Header(response, "Access-Control-Max-Age"));
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
        Assert.Null(Header(response, "Vary"));
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_preflight_continue_the_preflight_reaches_the_backend_which_answers_it()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://app.example.com\"], preflight_continue: true, exposed_headers: [X-Total]}"));

        using var request = Preflight("https://app.example.com");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OPTIONS /items", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("OPTIONS", seen.Method);
        Assert.Equal("https://app.example.com", seen.Headers["Origin"]);
        Assert.Equal("PUT", seen.Headers["Access-Control-Request-Method"]);
        Assert.Empty(CorsHeaders(response));
    }

    [Fact(Timeout = 60_000)]
    public async Task An_actual_request_is_forwarded_and_its_response_gets_the_CORS_headers_replacing_the_backends()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers["Access-Control-Allow-Origin"] = "*";
            context.Response.Headers["Access-Control-Expose-Headers"] = "X-Backend";
            context.Response.Headers.Vary = "Accept-Encoding";
            await context.Response.WriteAsync("items");
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://app.example.com\"], credentials: true, exposed_headers: [X-Total, X-Request-Id]}"));

        using var request = Actual("https://app.example.com:443");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("items", await response.Content.ReadAsStringAsync());
        Assert.Equal("https://app.example.com:443", Assert.Single(backend.Requests).Headers["Origin"]);
        Assert.Equal("https://app.example.com", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("X-Total,X-Request-Id", Header(response, "Access-Control-Expose-Headers"));
        var vary = Header(response, "Vary");
        Assert.Contains("Accept-Encoding", vary, StringComparison.Ordinal);
        Assert.Contains("Origin", vary, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_disallowed_origin_gets_no_CORS_headers_but_its_request_still_reaches_the_backend()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers["Access-Control-Allow-Origin"] = "*";
            await context.Response.WriteAsync("items");
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://app.example.com\", \"https://admin.example.com\"], credentials: true, exposed_headers: [X-Total]}"));

        using var actual = Actual("https://evil.example");
        var actualResponse = await gateway.Client.SendAsync(actual);
        using var preflight = Preflight("https://evil.example");
        var preflightResponse = await gateway.Client.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.OK, actualResponse.StatusCode);
        Assert.Equal("items", await actualResponse.Content.ReadAsStringAsync());
        Assert.Empty(CorsHeaders(actualResponse));
        Assert.Contains("Origin", Header(actualResponse, "Vary"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, preflightResponse.StatusCode);
        Assert.Empty(CorsHeaders(preflightResponse));
        Assert.Equal("GET", Assert.Single(backend.Requests).Method);
    }

    [Fact(Timeout = 60_000)]
    public async Task Regex_origins_match_the_whole_origin_or_the_host_when_they_have_no_colon()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://.*\\\\.example\\\\.org\", \"(.*\\\\.)?partner\\\\.test\"]}"));

        async Task<string?> AllowOriginFor(string origin)
        {
            using var request = Actual(origin);
            var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return Header(response, "Access-Control-Allow-Origin");
        }

        Assert.Equal("https://a.b.example.org", await AllowOriginFor("https://a.b.example.org"));
        Assert.Null(await AllowOriginFor("http://a.example.org"));
        Assert.Null(await AllowOriginFor("https://a.example.org.evil.com"));
        Assert.Equal("http://api.partner.test:8443", await AllowOriginFor("http://api.partner.test:8443"));
        Assert.Equal("https://partner.test", await AllowOriginFor("https://partner.test"));
        Assert.Null(await AllowOriginFor("https://partner.test.evil.com"));
        Assert.Null(await AllowOriginFor("https://notpartner.test"));
        Assert.Equal(7, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Any_origin_gets_a_star_unless_credentials_are_allowed_then_the_origin_is_echoed_as_Kong_does()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var open = await TestGateway.StartAsync(Config(backend.Url, "{}"));
        await using var withCredentials = await TestGateway.StartAsync(Config(backend.Url, "{origins: [\"*\"], credentials: true}"));

        using var openRequest = Actual("https://any.example");
        var openResponse = await open.Client.SendAsync(openRequest);
        using var noOriginRequest = Actual(null);
        var noOriginResponse = await open.Client.SendAsync(noOriginRequest);
        using var credentialsRequest = Actual("https://any.example");
        var credentialsResponse = await withCredentials.Client.SendAsync(credentialsRequest);
        using var credentialsPreflight = Preflight("https://any.example");
        var credentialsPreflightResponse = await withCredentials.Client.SendAsync(credentialsPreflight);

        Assert.Equal("*", Header(openResponse, "Access-Control-Allow-Origin"));
        Assert.Null(Header(openResponse, "Access-Control-Allow-Credentials"));
        Assert.Null(Header(openResponse, "Vary"));
        // allow_origin_absent (Kong's default): a request without Origin still gets the '*'.
        Assert.Equal("*", Header(noOriginResponse, "Access-Control-Allow-Origin"));
        foreach (var response in new[] { credentialsResponse, credentialsPreflightResponse })
        {
            Assert.Equal("https://any.example", Header(response, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
            Assert.Contains("Origin", Header(response, "Vary"), StringComparison.Ordinal);
        }

        Assert.Equal(3, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Cors_runs_before_key_auth_so_preflights_need_no_key_and_rejections_carry_the_CORS_headers()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url,
            "{origins: [\"https://app.example.com\"]}", "  - name: key-auth\n    config: {}\n"));

        using var preflight = Preflight("https://app.example.com");
        var preflightResponse = await gateway.Client.SendAsync(preflight);
        using var noKey = Actual("https://app.example.com");
        var noKeyResponse = await gateway.Client.SendAsync(noKey);
        using var withKey = Actual("https://app.example.com");
        withKey.Headers.Add("apikey", "alice-key-0001");
        var withKeyResponse = await gateway.Client.SendAsync(withKey);

        Assert.Equal(HttpStatusCode.OK, preflightResponse.StatusCode);
        Assert.Equal("https://app.example.com", Header(preflightResponse, "Access-Control-Allow-Origin"));
        await Problem.AssertAsync(noKeyResponse, HttpStatusCode.Unauthorized);
        Assert.Equal("https://app.example.com", Header(noKeyResponse, "Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.OK, withKeyResponse.StatusCode);
        Assert.Equal("https://app.example.com", Header(withKeyResponse, "Access-Control-Allow-Origin"));
        Assert.Equal("GET", Assert.Single(backend.Requests).Method);
    }
}
