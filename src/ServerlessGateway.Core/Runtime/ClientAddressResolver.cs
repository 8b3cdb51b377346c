using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ServerlessGateway.Runtime;

/// <summary>
/// The client's address (DESIGN.md §2): <c>X-Azure-SocketIP</c> behind the verified Front Door,
/// the nearest untrusted hop of <c>X-Forwarded-For</c> when the peer is a trusted proxy, else the
/// peer itself. A header the client controls is never believed on its own.
/// </summary>
internal sealed class ClientAddressResolver
{
    private readonly IPNetwork[] _trusted;
    private readonly string? _frontDoorId;

    public ClientAddressResolver(IOptions<GatewayOptions> options)
    {
        _frontDoorId = string.IsNullOrWhiteSpace(options.Value.FrontDoorId) ? null : options.Value.FrontDoorId.Trim();
        _trusted = options.Value.TrustedProxies.Select(ParseNetwork).ToArray();
    }

    private static IPNetwork ParseNetwork(string text) =>
        IPNetwork.TryParse(text, out var network) ? network
        : IPAddress.TryParse(text, out var single) ? new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
        : throw new OptionsValidationException(GatewayOptions.Section, typeof(GatewayOptions), [$"Gateway:TrustedProxies: '{text}' is not a CIDR or an IP address"]);

    public bool RequiresFrontDoor => _frontDoorId is not null;

    /// <summary>False when a Front Door id is configured and the request does not carry it.</summary>
    public bool Resolve(HttpContext context, GatewayRequestFeature feature)
    {
        var peer = context.Connection.RemoteIpAddress;
        if (peer is { IsIPv4MappedToIPv6: true })
        {
            peer = peer.MapToIPv4();
        }

        if (_frontDoorId is not null)
        {
            if (!string.Equals(context.Request.Headers["X-Azure-FDID"], _frontDoorId, StringComparison.OrdinalIgnoreCase))
            {
                feature.ClientAddress = peer;
                return false;
            }

            feature.PeerIsTrustedProxy = true;
            feature.ClientAddress = IPAddress.TryParse(context.Request.Headers["X-Azure-SocketIP"].ToString(), out var socketIp) ? socketIp : peer;
            return true;
        }

        feature.ClientAddress = peer;
        if (peer is null || _trusted.Length == 0 || !IsTrusted(peer))
        {
            return true;
        }

        feature.PeerIsTrustedProxy = true;
        var forwardedFor = context.Request.Headers["X-Forwarded-For"];
        // Walk right to left: the first hop that is not a trusted proxy is the client.
        for (var i = forwardedFor.Count - 1; i >= 0; i--)
        {
            var hops = forwardedFor[i]!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (var j = hops.Length - 1; j >= 0; j--)
            {
                if (!IPAddress.TryParse(hops[j], out var hop))
                {
                    return true;
                }

                feature.ClientAddress = hop;
                if (!IsTrusted(hop))
                {
                    return true;
                }
            }
        }

        return true;
    }

    private bool IsTrusted(IPAddress address)
    {
        foreach (var network in _trusted)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
