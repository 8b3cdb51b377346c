using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.RequestGuards;

/// <summary>
/// Kong's <c>ip-restriction</c> (https://docs.konghq.com/hub/kong-inc/ip-restriction/): the trusted
/// client address (<see cref="GatewayRequestFeature.ClientAddress"/>, never a header the client
/// controls) is checked against <c>deny</c> first, then <c>allow</c>; when both are set a denied
/// address is rejected even if it is also allowed (Kong's handler evaluates deny before allow).
/// </summary>
internal sealed class IpRestrictionPlugin(PluginConfig config, IpRestrictionPlugin.Options options) : GatewayPlugin(config)
{
    internal sealed record Options(IPNetwork[] Allow, IPNetwork[] Deny, int Status, string Message);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "ip-restriction";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new IpRestrictionPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", [])));

        internal static Options Read(MapReader config)
        {
            var allow = Networks(config, "allow");
            var deny = Networks(config, "deny");
            if (allow.Length == 0 && deny.Length == 0)
            {
                config.Error("allow", "at least one of 'allow' or 'deny' must be non-empty");
            }

            var options = new Options(
                allow,
                deny,
                config.Int("status", StatusCodes.Status403Forbidden, 100, 599),
                config.String("message") ?? "Your IP address is not allowed");
            config.Finish();
            return options;
        }

        private static IPNetwork[] Networks(MapReader config, string key)
        {
            var result = new List<IPNetwork>();
            var index = 0;
            foreach (var (node, _) in config.List(key))
            {
                if (node.Kind == ConfigNodeKind.Scalar && TryParseNetwork(node.Text, out var network))
                {
                    result.Add(network);
                }
                else
                {
                    config.Error($"{key}[{index}]", $"'{node.Text}' is not an IPv4/IPv6 address or CIDR");
                }

                index++;
            }

            return [.. result];
        }
    }

    /// <summary>An address or CIDR; host bits below the prefix are masked off as Kong's CIDR matcher does.</summary>
    internal static bool TryParseNetwork(string text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address) || address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var address = context.Request.ClientAddress;
        if (address is { IsIPv4MappedToIPv6: true })
        {
            address = address.MapToIPv4();
        }

        var blocked = address is null
            || Matches(options.Deny, address)
            || options.Allow.Length > 0 && !Matches(options.Allow, address);
        return ValueTask.FromResult(blocked ? PluginResult.Reject(options.Status, options.Message) : PluginResult.Continue);
    }

    private static bool Matches(IPNetwork[] networks, IPAddress address)
    {
        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
