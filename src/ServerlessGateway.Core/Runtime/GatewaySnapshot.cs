using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Plugins;
using ServerlessGateway.Routing;

namespace ServerlessGateway.Runtime;

/// <summary>
/// A validated config compiled once into what requests need: the route table and, per route, its
/// service runtime. Immutable; a new config means a new snapshot swapped in atomically.
/// </summary>
public sealed class GatewaySnapshot
{
    private GatewaySnapshot(GatewayConfig config, Router router, string version, ConsumerIndex consumers, IReadOnlyList<Resilience.UpstreamHealth> activeChecks)
    {
        ActiveChecks = activeChecks;
        Config = config;
        Router = router;
        Version = version;
        Consumers = consumers;
    }

    public GatewayConfig Config { get; }
    /// <summary>The config version this snapshot serves (a registry version, or "file" in DB-less mode).</summary>
    public string Version { get; }
    internal Router Router { get; }

    internal ConsumerIndex Consumers { get; }

    /// <summary>Upstreams whose targets the active health checker probes while this snapshot is served.</summary>
    internal IReadOnlyList<Resilience.UpstreamHealth> ActiveChecks { get; }

    /// <param name="pluginRuntime">What plugin instances use at run time; required when the config has plugins.</param>
    internal static GatewaySnapshot Compile(GatewayConfig config, string version, PluginRuntime? pluginRuntime = null)
    {
        var plugins = new List<GatewayPlugin>();
        foreach (var plugin in config.Plugins)
        {
            if (plugin.Enabled && PluginCatalog.Definitions.TryGetValue(plugin.Name, out var definition))
            {
                plugins.Add(definition.Create(plugin, pluginRuntime ?? throw new InvalidOperationException("plugins need a PluginRuntime")));
            }
        }

        // Breakers and health state live in the host's resilience runtime (absent in unit tests).
        var resilience = pluginRuntime?.Services.GetService(typeof(Resilience.ResilienceRuntime)) as Resilience.ResilienceRuntime;
        var upstreams = config.Upstreams.ToDictionary(
            u => u.Name, u => (Config: u, Health: Resilience.UpstreamHealth.Create(u, resilience)), StringComparer.OrdinalIgnoreCase);
        var services = new Dictionary<string, ServiceRuntime>(StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            var upstream = upstreams.GetValueOrDefault(service.Host);
            var runtime = new ServiceRuntime(service, upstream.Config, upstream.Health, resilience, UpstreamTls.For(service, config, pluginRuntime?.Protector));
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
                Plugins = plugins.Count == 0 ? PluginChain.Empty : PluginChain.For(route, service?.Config.Key, plugins),
                Methods = [.. route.Methods],
                Hosts = route.Hosts.Select(h => new HostPattern(h)).ToArray(),
                Headers = route.Headers.Select(h => HeaderCondition.Create(h.Key, h.Value)).ToArray(),
            });
        }

        var activeChecks = upstreams.Values.Where(u => u.Health is { Config.Active.Enabled: true }).Select(u => u.Health!).ToArray();
        return new GatewaySnapshot(config, new Router(routes), version, config.Consumers.Count == 0 ? ConsumerIndex.Empty : new ConsumerIndex(config.Consumers), activeChecks);
    }
}
