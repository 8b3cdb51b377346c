using System.Net;
using ServerlessGateway.Configuration;
using ServerlessGateway.Resilience;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Forwarding;

/// <summary>A service compiled for forwarding: where to send, with which protocol and timeouts.</summary>
internal sealed class ServiceRuntime
{
    public ServiceRuntime(ServiceConfig config, UpstreamConfig? upstream, UpstreamHealth? health = null, ResilienceRuntime? resilience = null, UpstreamTls? tls = null)
    {
        Config = config;
        Tls = tls;
        // gRPC speaks HTTP/2: cleartext h2c with prior knowledge for grpc, ALPN over TLS for grpcs.
        var scheme = config.Protocol is "https" or "grpcs" ? "https" : "http";
        var http2 = config.Protocol is "grpc" or "grpcs";
        if (upstream is not null)
        {
            HostHeader = upstream.HostHeader;
            Balancer = new TargetBalancer(upstream.Targets
                .Select((t, i) => (Target(config, $"{scheme}://{t.Target}", t.Target, health?.Targets[i], resilience), t.Weight))
                .ToArray());
        }
        else
        {
            var host = config.Host.Contains(':') && !config.Host.StartsWith('[') ? $"[{config.Host}]" : config.Host;
            Balancer = new TargetBalancer([(Target(config, $"{scheme}://{host}:{config.Port}", $"{host}:{config.Port}", null, resilience), 1)]);
        }

        var options = resilience?.Options ?? new ResilienceOptions();
        RetryBudget = new RetryBudget(resilience?.Time ?? TimeProvider.System, options.RetryBudgetRatio, options.RetryBudgetMinPerSecond);

        Timeouts = new UpstreamTimeouts(
            TimeSpan.FromMilliseconds(config.ConnectTimeout),
            TimeSpan.FromMilliseconds(config.ReadTimeout),
            TimeSpan.FromMilliseconds(config.WriteTimeout));
        RequestConfig = new ForwarderRequestConfig
        {
            // Our idle timeouts fire first; YARP's activity timeout is only a backstop above them.
            ActivityTimeout = TimeSpan.FromMilliseconds(Math.Max(config.ReadTimeout, config.WriteTimeout)) + TimeSpan.FromSeconds(5),
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = http2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
        };
    }

    public ServiceConfig Config { get; }
    public TargetBalancer Balancer { get; }
    /// <summary>Upstream <c>host_header</c>: the Host sent when the route does not preserve the client's.</summary>
    public string? HostHeader { get; }
    public UpstreamTimeouts Timeouts { get; }
    public ForwarderRequestConfig RequestConfig { get; }
    /// <summary>Caps this service's retries at a share of its recent requests.</summary>
    public RetryBudget RetryBudget { get; }

    private static BalancedTarget Target(ServiceConfig config, string destination, string authority, TargetHealth? health, ResilienceRuntime? resilience) =>
        new(destination, authority, health, config.CircuitBreaker is { } breaker && resilience is not null
            ? resilience.Breaker(config.Key, authority, breaker)
            : null);

    /// <summary>The service's own upstream TLS settings; null for the defaults (see <see cref="UpstreamTls.For"/>).</summary>
    public UpstreamTls? Tls { get; }
}
