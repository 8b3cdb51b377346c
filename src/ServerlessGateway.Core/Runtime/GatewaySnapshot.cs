using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Routing;

namespace ServerlessGateway.Runtime;

/// <summary>
/// A validated config compiled once into what requests need: the route table and, per route, its
/// service runtime. Immutable; a new config means a new snapshot swapped in atomically.
/// </summary>
public sealed class GatewaySnapshot
{
    private GatewaySnapshot(GatewayConfig config, Router router, string version)
    {
        Config = config;
        Router = router;
        Version = version;
    }

    public GatewayConfig Config { get; }
    /// <summary>The config version this snapshot serves (a registry version, or "file" in DB-less mode).</summary>
    public string Version { get; }
    internal Router Router { get; }

    public static GatewaySnapshot Compile(GatewayConfig config, string version)
    {
        var upstreams = config.Upstreams.ToDictionary(u => u.Name, StringComparer.OrdinalIgnoreCase);
        var services = new Dictionary<string, ServiceRuntime>(StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            var runtime = new ServiceRuntime(service, upstreams.GetValueOrDefault(service.Host));
            services[service.Id] = runtime;
            if (service.Name is not null)
            {
                services[service.Name] = runtime;
            }
        }

        var routes = new List<CompiledRoute>(config.Routes.Count);
        foreach (var route in config.Routes)
        {
            var service = route.Service is null ? null : services.GetValueOrDefault(route.Service);
            if (service is { Config.Enabled: false })
            {
                // Kong: a disabled service's routes are not served.
                continue;
            }

            routes.Add(new CompiledRoute
            {
                Config = route,
                Service = service,
                Methods = [.. route.Methods],
                Hosts = route.Hosts.Select(h => new HostPattern(h)).ToArray(),
                Headers = route.Headers.Select(h => HeaderCondition.Create(h.Key, h.Value)).ToArray(),
            });
        }

        return new GatewaySnapshot(config, new Router(routes), version);
    }
}
