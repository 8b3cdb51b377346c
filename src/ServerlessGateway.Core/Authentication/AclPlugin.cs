using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Authentication;

/// <summary>
/// Kong's <c>acl</c> (https://docs.konghq.com/hub/kong-inc/acl/): the authenticated consumer's groups
/// (its <c>acls</c>) must meet <c>allow</c> or avoid <c>deny</c>; the groups go to the backend in
/// <c>X-Consumer-Groups</c> unless <c>hide_groups_header</c>.
/// </summary>
internal sealed class AclPlugin(PluginConfig config, AclPlugin.Options options) : GatewayPlugin(config)
{
    internal sealed record Options(HashSet<string>? Allow, HashSet<string>? Deny, bool HideGroupsHeader);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "acl";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new AclPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", [])));

        private static Options Read(MapReader config)
        {
            var allow = config.Has("allow") ? config.StringList("allow") : null;
            var deny = config.Has("deny") ? config.StringList("deny") : null;
            if ((allow is null) == (deny is null))
            {
                config.Error("allow", "set exactly one of 'allow' or 'deny'");
            }

            var options = new Options(
                allow is null ? null : new HashSet<string>(allow, StringComparer.Ordinal),
                deny is null ? null : new HashSet<string>(deny, StringComparer.Ordinal),
                config.Bool("hide_groups_header", false));
            config.KongDefault("always_use_authenticated_groups", "false", "authenticated groups from other plugins are not supported");
            config.KongDefault("include_consumer_groups", "false", "consumer groups are not supported");
            config.Finish();
            return options;
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        if (context.Request.Consumer is not { } consumer)
        {
            // Kong: the ACL plugin needs an authentication plugin in front of it.
            return ValueTask.FromResult(PluginResult.Reject(StatusCodes.Status401Unauthorized, "Unauthorized"));
        }

        var groups = context.Consumers.GroupsOf(consumer);
        var allowed = options.Deny is { } deny
            ? !groups.Any(deny.Contains)
            : groups.Any(options.Allow!.Contains);
        if (!allowed)
        {
            return ValueTask.FromResult(PluginResult.Reject(StatusCodes.Status403Forbidden, "You cannot consume this service"));
        }

        if (!options.HideGroupsHeader && groups.Count > 0)
        {
            context.Request.AddUpstreamHeader("X-Consumer-Groups", string.Join(", ", groups));
        }

        return ValueTask.FromResult(PluginResult.Continue);
    }
}
