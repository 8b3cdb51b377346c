using System.Net;

namespace ServerlessGateway.Forwarding;

/// <summary>Resolves an upstream host name at connect time. A port so tests can inject answers.</summary>
public interface IUpstreamResolver
{
    ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

internal sealed class DnsUpstreamResolver : IUpstreamResolver
{
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        await Dns.GetHostAddressesAsync(host, cancellationToken);
}
