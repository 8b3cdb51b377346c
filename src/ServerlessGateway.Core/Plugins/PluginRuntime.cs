using Microsoft.Extensions.Logging;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Plugins;

/// <summary>
/// What plugin instances may use at run time: time, the secrets protector, loggers, the SSRF-guarded
/// outbound client (JWKS and discovery fetches go through the same connect-time guard as upstreams),
/// and the host's services for state that outlives a snapshot (key caches).
/// </summary>
internal sealed class PluginRuntime(
    TimeProvider time,
    CredentialProtector protector,
    ILoggerFactory loggers,
    UpstreamClient outbound,
    IServiceProvider services)
{
    public TimeProvider Time { get; } = time;
    public CredentialProtector Protector { get; } = protector;
    public ILoggerFactory Loggers { get; } = loggers;
    public HttpMessageInvoker Outbound { get; } = outbound.Invoker;
    public IServiceProvider Services { get; } = services;
}
