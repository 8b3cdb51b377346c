using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessGateway.Management;

namespace ServerlessGateway.Functions;

/// <summary>
/// The management API under <c>/_gateway</c> (DESIGN.md §5), one function per resource so each shows
/// up on its own in the Functions monitoring. Every one hands the request to the same Core entry point,
/// which dispatches on the path, authenticates the admin key or token itself (hence
/// <see cref="AuthorizationLevel.Anonymous"/>) and answers 405 for methods a path does not serve, so
/// no methods are listed here (health thus takes GET and the HEAD probes of Azure Front Door).
/// </summary>
/// <remarks>
/// Names sort before the proxy's "ZzProxy", and "GatewayZzFallback" ("_gateway/{*rest}", anything else
/// under /_gateway) sorts after every other "Gateway*" function: the host tries routes in name order.
/// </remarks>
public sealed class ManagementFunctions(ManagementApi api)
{
    [Function("GatewayHealth")]
    public Task<IResult> HealthAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/health")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayConfig")]
    public Task<IResult> ConfigAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/config/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayServices")]
    public Task<IResult> ServicesAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/services/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayRoutes")]
    public Task<IResult> RoutesAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/routes/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayUpstreams")]
    public Task<IResult> UpstreamsAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/upstreams/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayConsumers")]
    public Task<IResult> ConsumersAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/consumers/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayPlugins")]
    public Task<IResult> PluginsAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/plugins/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayMetrics")]
    public Task<IResult> MetricsAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/metrics")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));

    [Function("GatewayZzFallback")]
    public Task<IResult> FallbackAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "_gateway/{*rest}")] HttpRequest req) =>
        CoreResponse.WrittenBy(api.InvokeAsync(req.HttpContext));
}
