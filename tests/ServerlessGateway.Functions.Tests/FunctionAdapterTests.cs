using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ServerlessGateway.Functions.Tests.Infrastructure;

namespace ServerlessGateway.Functions.Tests;

/// <summary>
/// The function classes with the app's own registrations (AddFunctionsGateway), dispatched as the host
/// and the worker would (<see cref="FunctionsAppHost"/>) over real loopback sockets: each adapter must
/// hand the request to the right Core entry point, which writes the response.
/// </summary>
public sealed class FunctionAdapterTests : IAsyncLifetime
{
    private const string AdminKey = "functions-tests-admin-key";
    private LoopbackBackend _backend = null!;
    private string _configFile = null!;

    public async Task InitializeAsync()
    {
        _backend = await LoopbackBackend.StartAsync();
        _configFile = Path.Combine(Path.GetTempPath(), $"sg-functions-tests-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(_configFile, $"""
            _format_version: "3.0"
            services:
            - name: demo
              url: {_backend.Address}
              routes:
              - name: demo-route
                paths: [/demo]
            """);
    }

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        File.Delete(_configFile);
    }

    [Fact(Timeout = 60_000)]
    public async Task Health_AnswersGetAndHead_ThroughTheHealthFunction()
    {
        await using var app = await StartAppAsync();
        using var client = Client(app);

        using var get = await client.GetAsync("/_gateway/health");
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/_gateway/health"));

        Assert.Equal(["GatewayHealth", "GatewayHealth"], app.Invoked);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using var body = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
        Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("/_gateway/services", "GatewayServices")]
    [InlineData("/_gateway/routes", "GatewayRoutes")]
    [InlineData("/_gateway/upstreams", "GatewayUpstreams")]
    [InlineData("/_gateway/consumers", "GatewayConsumers")]
    [InlineData("/_gateway/plugins", "GatewayPlugins")]
    [InlineData("/_gateway/config", "GatewayConfig")]
    [InlineData("/_gateway/config/history", "GatewayConfig")]
    [InlineData("/_gateway/metrics", "GatewayMetrics")]
    [InlineData("/_gateway/no-such-resource", "GatewayZzFallback")]
    public async Task ManagementFunctions_LeaveAuthenticationToTheGateway(string path, string function)
    {
        await using var app = await StartAppAsync();
        using var client = Client(app);

        using var anonymous = await client.GetAsync(path);
        using var admin = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "X-Gateway-Admin-Key", AdminKey } } });

        Assert.Equal([function, function], app.Invoked);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(path.EndsWith("no-such-resource", StringComparison.Ordinal) ? HttpStatusCode.NotFound : HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task AdminList_ShowsTheLoadedService()
    {
        await using var app = await StartAppAsync();
        using var client = Client(app);

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/_gateway/services") { Headers = { { "X-Gateway-Admin-Key", AdminKey } } });

        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var service = Assert.Single(body.RootElement.GetProperty("data").EnumerateArray());
        Assert.Equal("demo", service.GetProperty("name").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Proxy_DeniesLoopbackUpstreams_ByDefaultOnTheFunctionsHost()
    {
        await using var app = await StartAppAsync();
        using var client = Client(app);

        using var response = await client.GetAsync("/demo/hello");

        Assert.Equal(["ZzProxy"], app.Invoked);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact(Timeout = 60_000)]
    public async Task Proxy_ForwardsToTheBackend_WhenLoopbackIsAllowed()
    {
        await using var app = await StartAppAsync(("Gateway:Upstreams:AllowLoopback", "true"));
        using var client = Client(app);

        using var response = await client.GetAsync("/demo/hello");

        Assert.Equal(["ZzProxy"], app.Invoked);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backend saw /hello", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task Proxy_AnswersUnmatchedPathsWithTheGateways404()
    {
        await using var app = await StartAppAsync();
        using var client = Client(app);

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod("PATCH"), "/nothing/here"));

        Assert.Equal(["ZzProxy"], app.Invoked);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact(Timeout = 60_000)]
    public async Task Telemetry_NoAccessLogLine_GatewaySpansRecordedWithApplicationInsights()
    {
        await using var plain = await StartAppAsync();
        await using var insights = await StartAppAsync(
            ("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"),
            ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD;ClientId=11111111-1111-1111-1111-111111111111"));

        // Application Insights records each request already: the per-request access log line is off here.
        Assert.False(plain.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.AccessLog);
        Assert.NotNull(insights.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
        using var gatewaySource = new System.Diagnostics.ActivitySource("ServerlessGateway");
        Assert.True(gatewaySource.HasListeners());
    }

    private Task<FunctionsAppHost> StartAppAsync(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:ConfigFile"] = _configFile,
            ["Gateway:Admin:Keys:0"] = AdminKey,
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return FunctionsAppHost.StartAsync(settings);
    }

    private static HttpClient Client(FunctionsAppHost app) => new() { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
}
