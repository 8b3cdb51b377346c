using System.Net;
using System.Net.Sockets;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// The SSRF guard's decision on one resolved address (DESIGN.md §5, <c>Gateway__Upstreams__*</c>).
/// Link-local (incl. the 169.254.169.254 metadata endpoint) is denied by default on both hosts;
/// loopback is denied on the Functions host and allowed on the Standalone host; private networks
/// are allowed (VNet backends). Unspecified, multicast and broadcast addresses are always denied.
/// </summary>
public sealed class UpstreamAddressPolicy
{
    public bool AllowLoopback { get; set; }
    public bool AllowPrivateNetworks { get; set; } = true;
    public bool AllowLinkLocal { get; set; }

    public bool IsAllowed(IPAddress address, out string reason)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        reason = "";
        switch (Classify(address))
        {
            case AddressClass.Loopback when !AllowLoopback:
                reason = "loopback";
                return false;
            case AddressClass.LinkLocal when !AllowLinkLocal:
                reason = "link-local";
                return false;
            case AddressClass.Private when !AllowPrivateNetworks:
                reason = "private network";
                return false;
            case AddressClass.Never:
                reason = "unspecified, multicast or broadcast";
                return false;
            default:
                return true;
        }
    }

    private enum AddressClass { Public, Loopback, LinkLocal, Private, Never }

    private static AddressClass Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return b[0] switch
            {
                0 => AddressClass.Never,                                  // 0.0.0.0/8 reaches the host itself
                127 => AddressClass.Loopback,
                10 => AddressClass.Private,
                100 when (b[1] & 0xC0) == 64 => AddressClass.Private,     // 100.64.0.0/10 shared address space
                169 when b[1] == 254 => AddressClass.LinkLocal,
                172 when (b[1] & 0xF0) == 16 => AddressClass.Private,
                192 when b[1] == 168 => AddressClass.Private,
                >= 224 => AddressClass.Never,                             // multicast, reserved, broadcast
                _ => AddressClass.Public,
            };
        }

        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return AddressClass.Loopback;
        }

        if (address.Equals(IPAddress.IPv6Any) || address.IsIPv6Multicast)
        {
            return AddressClass.Never;
        }

        if (address.IsIPv6LinkLocal)
        {
            return AddressClass.LinkLocal;
        }

        Span<byte> v6 = stackalloc byte[16];
        address.TryWriteBytes(v6, out _);
        return (v6[0] & 0xFE) == 0xFC || address.IsIPv6SiteLocal ? AddressClass.Private : AddressClass.Public;
    }
}
