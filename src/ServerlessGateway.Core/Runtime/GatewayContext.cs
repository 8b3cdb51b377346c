using Microsoft.AspNetCore.Http;
using ServerlessGateway.Plugins;

namespace ServerlessGateway.Runtime;

/// <summary>What a plugin sees of one request: the HTTP context, the gateway's per-request state and the snapshot.</summary>
internal readonly record struct GatewayContext(HttpContext Http, GatewayRequestFeature Request, GatewaySnapshot Snapshot, PluginRuntime Runtime)
{
    public ConsumerIndex Consumers => Snapshot.Consumers;
}
