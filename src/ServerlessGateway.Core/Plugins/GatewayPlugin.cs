using ServerlessGateway.Configuration;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Plugins;

/// <summary>A compiled plugin instance; immutable and shared by every request of its snapshot.</summary>
internal abstract class GatewayPlugin(PluginConfig config)
{
    public PluginConfig Config { get; } = config;

    /// <summary>Kong's access phase: runs before the request is forwarded; may reject it.</summary>
    public abstract ValueTask<PluginResult> AccessAsync(GatewayContext context);
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
