using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace ServerlessGateway.Routing;

/// <summary>A Kong target, <c>host[:port]</c> (port 8000 when absent, as in Kong; IPv6 in brackets).</summary>
public readonly record struct TargetAddress(string Host, int Port)
{
    public const int DefaultPort = 8000;

    public static bool TryParse(string text, [NotNullWhen(true)] out TargetAddress address)
    {
        address = default;
        string host;
        var port = DefaultPort;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0 || !IPAddress.TryParse(text[1..close], out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                return false;
            }

            host = "[" + v6 + "]";
            var rest = text[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !TryParsePort(rest[1..], out port)))
            {
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            if (colon >= 0 && !TryParsePort(text[(colon + 1)..], out port))
            {
                return false;
            }

            if (!Configuration.KongDeclarativeParser.IsValidHost(host))
            {
                return false;
            }
        }

        address = new TargetAddress(host.ToLowerInvariant(), port);
        return true;
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port)
        && port is >= 1 and <= 65535;

    public override string ToString() => $"{Host}:{Port}";
}
