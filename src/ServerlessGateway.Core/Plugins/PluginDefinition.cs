using ServerlessGateway.Configuration;

namespace ServerlessGateway.Plugins;

/// <summary>
/// A plugin type: validates a config at import (every error with its path, Kong field names and
/// defaults) and creates the runtime instance when a snapshot is compiled.
/// </summary>
internal abstract class PluginDefinition
{
    public abstract string Name { get; }

    /// <summary>Kong's priority: higher runs first (DESIGN.md §2).</summary>
    public int Priority => PluginCatalog.Priorities[Name];

    /// <summary>
    /// Authentication plugins establish the consumer, so they cannot be scoped to one (Kong's
    /// <c>no_consumer</c>), and several on a route must all pass unless <c>anonymous</c> makes them alternatives.
    /// </summary>
    public virtual bool IsAuthentication => false;

    /// <summary>Kong's <c>no_consumer</c>: the plugin cannot be scoped to a consumer (every authentication plugin, and cors).</summary>
    public virtual bool NoConsumer => IsAuthentication;

    /// <summary>Checks <paramref name="config"/> (a reader over <c>plugins[i].config</c>: errors carry that path) and calls its Finish.</summary>
    public abstract void Validate(MapReader config, PluginValidationContext context);

    /// <summary>
    /// The config as stored and exported, given one that validated: by default as written. A plugin drops
    /// here fields it accepts but ignores and must not keep (rate-limiting's Redis settings, which may hold a password).
    /// </summary>
    public virtual System.Text.Json.Nodes.JsonObject StoredConfig(System.Text.Json.Nodes.JsonObject config) => config;

    /// <summary>Creates the instance serving <paramref name="plugin"/> (whose config validated).</summary>
    public abstract GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime);
}

/// <summary>
/// What plugin validation may look at besides its own config: the rest of the config being imported,
/// and where to put warnings (accepted but ignored fields, e.g. Kong's <c>redis</c> settings).
/// </summary>
internal sealed record PluginValidationContext(GatewayConfig Config, List<ConfigIssue> Errors, List<ConfigIssue> Warnings)
{
    public bool ConsumerExists(string reference) =>
        Config.Consumers.Any(c => c.Id.Equals(reference, StringComparison.OrdinalIgnoreCase) || c.Username == reference || c.CustomId == reference);
}
