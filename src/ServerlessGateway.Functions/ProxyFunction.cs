using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Functions;

/// <summary>
/// The catch-all proxy: every request that no management function claimed goes through Core's pipeline.
/// </summary>
/// <remarks>
/// The host sorts functions by name (ordinal, ignoring case) and tries their routes in that order, first
/// match wins. "{*path}" matches every path, so this name must sort after every other HTTP function:
/// "Zz" marks a catch-all that sorts last in its scope, and a test over the built functions.metadata
/// enforces the order. No methods are listed, so every method (HEAD, OPTIONS, PATCH, extension
/// methods) reaches the gateway, which matches methods itself as Kong does.
/// </remarks>
public sealed class ProxyFunction(GatewayPipeline pipeline)
{
    [Function("ZzProxy")]
    public Task<IResult> RunAsync([HttpTrigger(AuthorizationLevel.Anonymous, Route = "{*path}")] HttpRequest req) =>
        CoreResponse.WrittenBy(pipeline.InvokeAsync(req.HttpContext));
}
