using System.Net;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>A hand-written resolver: answers from a table, so no test depends on (or reaches) real DNS.</summary>
public sealed class FakeResolver(Func<string, IPAddress[]> answer, TimeSpan? delay = null) : IUpstreamResolver
{
    public List<string> Lookups { get; } = [];

    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        lock (Lookups)
        {
            Lookups.Add(host);
        }

        if (delay is { } d)
        {
            await Task.Delay(d, cancellationToken);
        }

        return answer(host);
    }
}
