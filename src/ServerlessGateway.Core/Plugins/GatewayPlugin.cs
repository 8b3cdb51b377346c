using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Plugins;

/// <summary>A compiled plugin instance; immutable and shared by every request of its snapshot.</summary>
internal abstract class GatewayPlugin(PluginConfig config)
{
    public PluginConfig Config { get; } = config;

    /// <summary>Kong's access phase: runs before the request is forwarded; may reject it.</summary>
    public abstract ValueTask<PluginResult> AccessAsync(GatewayContext context);

    /// <summary>True when the plugin has Kong's header_filter / body_filter phases (<see cref="ResponsePhase"/> runs them).</summary>
    public virtual bool HasResponsePhase => false;

    /// <summary>
    /// Kong's header_filter: edits the client response headers, on upstream responses and on the
    /// responses the gateway itself produces once this plugin was selected (rejections, upstream errors).
    /// </summary>
    public virtual void TransformResponseHeaders(HttpContext context)
    {
    }

    /// <summary>
    /// Kong's body_filter, on upstream responses only, after every plugin's header phase: may replace
    /// <paramref name="upstream"/>'s content, which YARP then streams to the client.
    /// </summary>
    public virtual ValueTask TransformResponseBodyAsync(HttpContext context, HttpResponseMessage upstream, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;
}

/// <summary>
/// What a plugin decided: go on, reject with a status (mapped to problem+json in one place), or answer
/// now with a status and no body (a CORS preflight; the plugin has set the response headers).
/// </summary>
internal readonly record struct PluginResult(int Status, string? Detail, string? WwwAuthenticate, TimeSpan? RetryAfter = null, bool Answered = false)
{
    public static readonly PluginResult Continue = new(0, null, null);

    public bool Rejected => Status != 0 && !Answered;

    public static PluginResult Reject(int status, string detail, string? wwwAuthenticate = null) => new(status, detail, wwwAuthenticate);

    /// <summary>Answer the request now with <paramref name="status"/> and an empty body; it is not forwarded.</summary>
    public static PluginResult Respond(int status) => new(status, null, null, Answered: true);
}
