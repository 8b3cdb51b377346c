using ServerlessGateway.Functions.Tests.Infrastructure;

namespace ServerlessGateway.Functions.Tests;

/// <summary>
/// The built functions.metadata, checked against the host's rules (DESIGN.md §5): the host sorts HTTP
/// functions by name and the first route match wins; /admin and /runtime belong to the host; the gateway
/// authenticates admin calls itself, so every function is anonymous.
/// </summary>
public sealed class FunctionsMetadataTests
{
    private static readonly StringComparer[] NameOrders = [StringComparer.Ordinal, StringComparer.OrdinalIgnoreCase];

    [Theory]
    [InlineData("GatewayHealth", "_gateway/health", "GET HEAD")]
    [InlineData("GatewayConfig", "_gateway/config/{*rest}", "GET POST")]
    [InlineData("GatewayServices", "_gateway/services/{*rest}", "GET POST PUT PATCH DELETE")]
    [InlineData("GatewayRoutes", "_gateway/routes/{*rest}", "GET POST PUT PATCH DELETE")]
    [InlineData("GatewayUpstreams", "_gateway/upstreams/{*rest}", "GET POST PUT PATCH DELETE")]
    [InlineData("GatewayConsumers", "_gateway/consumers/{*rest}", "GET POST PUT PATCH DELETE")]
    [InlineData("GatewayPlugins", "_gateway/plugins/{*rest}", "GET POST PUT PATCH DELETE")]
    [InlineData("GatewayMetrics", "_gateway/metrics", "GET")]
    [InlineData("GatewayZzFallback", "_gateway/{*rest}", "GET POST PUT PATCH DELETE HEAD OPTIONS")]
    public void ManagementFunction_HasItsRouteAndTheMethodsCoreServes(string name, string route, string methods)
    {
        var function = Assert.Single(FunctionsAppOutput.HttpFunctions, f => f.Name == name);

        Assert.Equal(route, function.HttpTrigger!.Route);
        Assert.All(methods.Split(' '), m => Assert.True(function.HttpTrigger.Accepts(m), $"{name} does not accept {m}"));
    }

    [Fact]
    public void CatchAllProxy_TakesEveryPathAndEveryMethod()
    {
        var proxy = Assert.Single(FunctionsAppOutput.HttpFunctions, f => f.HttpTrigger!.Segments is [var only] && only.StartsWith("{*", StringComparison.Ordinal));

        Assert.Equal("ZzProxy", proxy.Name);
        Assert.Equal("{*path}", proxy.HttpTrigger!.Route);
        // No "methods" in the binding: the host adds no method constraint, so HEAD, OPTIONS, PATCH and
        // extension methods (PROPFIND, ...) all reach the gateway, which matches methods as Kong does.
        Assert.Null(proxy.HttpTrigger.Methods);
    }

    [Fact]
    public void CatchAllProxy_SortsAfterEveryOtherHttpFunction_OrdinalAndIgnoringCase()
    {
        var proxy = Assert.Single(FunctionsAppOutput.HttpFunctions, f => f.HttpTrigger!.Route == "{*path}");

        foreach (var order in NameOrders)
        {
            var last = FunctionsAppOutput.HttpFunctions.Select(f => f.Name).Order(order).Last();
            Assert.Equal(proxy.Name, last);
        }
    }

    [Fact]
    public void NoHttpFunction_IsShadowedByACatchAllThatSortsBeforeIt()
    {
        foreach (var order in NameOrders)
        {
            Assert.Empty(RouteOrder.Violations(FunctionsAppOutput.HttpFunctions, order));
        }
    }

    [Fact]
    public void RouteOrderCheck_ReportsACatchAllNamedToSortFirst()
    {
        FunctionDescription[] functions =
        [
            Http("Gateway", "_gateway/{*rest}"),
            Http("GatewayHealth", "_gateway/health"),
            Http("Proxy", "{*path}"),
            Http("Zebra", "zebra"),
        ];

        var violations = RouteOrder.Violations(functions, StringComparer.OrdinalIgnoreCase);

        Assert.Equal(2, violations.Count);
        Assert.Contains(violations, v => v.StartsWith("'GatewayHealth'", StringComparison.Ordinal) && v.Contains("'Gateway'", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("'Zebra'", StringComparison.Ordinal) && v.Contains("'Proxy'", StringComparison.Ordinal));
    }

    [Fact]
    public void NoRoute_StartsWithAdminOrRuntime()
    {
        var reserved = FunctionsAppOutput.HttpFunctions
            .Where(f => f.HttpTrigger!.Route!.TrimStart('/') is var r
                && (r.StartsWith("admin", StringComparison.OrdinalIgnoreCase) || r.StartsWith("runtime", StringComparison.OrdinalIgnoreCase)))
            .Select(f => f.Name);

        Assert.Empty(reserved);
        Assert.All(FunctionsAppOutput.HttpFunctions, f => Assert.False(string.IsNullOrEmpty(f.HttpTrigger!.Route), $"{f.Name} has no route (the host would use its name)"));
    }

    [Fact]
    public void EveryHttpFunction_IsAnonymous()
    {
        Assert.NotEmpty(FunctionsAppOutput.HttpFunctions);
        Assert.All(FunctionsAppOutput.HttpFunctions, f => Assert.Equal("anonymous", f.HttpTrigger!.AuthLevel?.ToLowerInvariant()));
    }

    [Fact]
    public void EveryHttpFunction_AnswersThroughAnHttpReturnBinding()
    {
        Assert.All(FunctionsAppOutput.HttpFunctions, f => Assert.Contains(f.Bindings,
            b => b is { Name: "$return", Type: "http", Direction: "Out" }));
    }

    [Fact]
    public async Task WorkerIndexedMetadata_DescribesTheSameFunctionsAsFunctionsMetadata()
    {
        // With workerIndexing (worker.config.json) the host asks the worker, which answers from this
        // source-generated provider; functions.metadata is what tools and this test read. Both must agree.
        var generated = await new GeneratedFunctionMetadataProvider().GetFunctionMetadataAsync(FunctionsAppOutput.Directory);
        var fromWorker = generated
            .Select(m => FunctionDescription.From(m.Name!, m.EntryPoint!, m.ScriptFile!, m.RawBindings!))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToArray();
        var fromFile = FunctionsAppOutput.Functions.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();

        Assert.Equal(fromFile.Select(Describe), fromWorker.Select(Describe));
    }

    [Theory]
    [InlineData("GET", "/_gateway/health", "GatewayHealth")]
    [InlineData("HEAD", "/_gateway/health", "GatewayHealth")]
    [InlineData("POST", "/_gateway/config", "GatewayConfig")]
    [InlineData("GET", "/_gateway/config/history/3", "GatewayConfig")]
    [InlineData("POST", "/_gateway/config/rollback/2", "GatewayConfig")]
    [InlineData("GET", "/_gateway/services", "GatewayServices")]
    [InlineData("PATCH", "/_gateway/services/users/routes", "GatewayServices")]
    [InlineData("DELETE", "/_gateway/routes/r1", "GatewayRoutes")]
    [InlineData("PUT", "/_gateway/upstreams/u/targets", "GatewayUpstreams")]
    [InlineData("POST", "/_gateway/consumers/alice/key-auth", "GatewayConsumers")]
    [InlineData("GET", "/_gateway/plugins", "GatewayPlugins")]
    [InlineData("GET", "/_gateway/metrics", "GatewayMetrics")]
    [InlineData("GET", "/_gateway", "GatewayZzFallback")]
    [InlineData("GET", "/_gateway/unknown/thing", "GatewayZzFallback")]
    [InlineData("GET", "/", "ZzProxy")]
    [InlineData("OPTIONS", "/api/users", "ZzProxy")]
    [InlineData("PROPFIND", "/dav/file", "ZzProxy")]
    [InlineData("GET", "/_gatewayx/health", "ZzProxy")]
    [InlineData("GET", "/api/_gateway/health", "ZzProxy")]
    public void TheHost_RoutesEachRequestToTheIntendedFunction(string method, string path, string expected)
    {
        using var hostJson = FunctionsAppOutput.ReadJson("host.json");
        var routePrefix = hostJson.RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString()!;
        var router = new FunctionsHostRouter(FunctionsAppOutput.Functions, routePrefix);

        Assert.Equal(expected, router.Select(method, path)?.Name);
    }

    private static FunctionDescription Http(string name, string route) =>
        FunctionDescription.From(name, "X." + name, "x.dll", [$$"""{"name":"req","type":"httpTrigger","direction":"In","authLevel":"Anonymous","route":"{{route}}"}"""]);

    private static string Describe(FunctionDescription f) =>
        $"{f.Name} {f.EntryPoint} {f.ScriptFile} " + string.Join(" | ", f.Bindings
            .OrderBy(b => b.Name, StringComparer.Ordinal)
            .Select(b => $"{b.Name} {b.Type} {b.Direction} {b.AuthLevel} {b.Route} {(b.Methods is null ? "*" : string.Join(',', b.Methods))}"));
}
