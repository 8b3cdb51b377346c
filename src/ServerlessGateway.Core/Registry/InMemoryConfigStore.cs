using System.Security.Cryptography;
using System.Text;

namespace ServerlessGateway.Registry;

/// <summary>
/// The store of DB-less mode (no <c>GatewayStorage</c>): same contract as the table store, kept in
/// process memory, so the management API works locally and changes live until the process ends
/// (Kong's DB-less semantics).
/// </summary>
public sealed class InMemoryConfigStore : IConfigStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<long, (string Document, ConfigVersionInfo Info)> _versions = [];
    private ConfigHead? _head;

    public Task<ConfigHead?> GetHeadAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_head);
        }
    }

    public Task<string?> ReadAsync(long version, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_versions.TryGetValue(version, out var v) ? v.Document : null);
        }
    }

    public Task<ConfigHead> PublishAsync(ConfigHead? expected, string document, ConfigChange change, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!Equals(expected, _head))
            {
                throw new ConfigConflictException("the config pointer moved");
            }

            var version = (_head?.Version ?? 0) + 1;
            var bytes = Encoding.UTF8.GetBytes(document);
            _versions[version] = (document, new ConfigVersionInfo(version, change.At, change.Actor, change.Action,
                Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length));
            _head = new ConfigHead(version, $"\"{version}\"");
            return Task.FromResult(_head);
        }
    }

    public Task<IReadOnlyList<ConfigVersionInfo>> ListVersionsAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ConfigVersionInfo>>(_versions.Values.Select(v => v.Info).OrderByDescending(v => v.Version).ToList());
        }
    }

    public Task PingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
