using ServerlessGateway.Configuration;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Plugins;

/// <summary>
/// Consumers and their credentials indexed once per snapshot, so authentication on the hot path is
/// a dictionary lookup: key-auth keys by their SHA-256 (never by the plain key), jwt secrets by key.
/// </summary>
internal sealed class ConsumerIndex
{
    private readonly Dictionary<string, ConsumerConfig> _byReference = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConsumerConfig> _byId = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (ConsumerConfig Consumer, KeyAuthCredential Credential)> _keyAuth = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (ConsumerConfig Consumer, JwtSecret Secret)> _jwt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _groups = new(StringComparer.OrdinalIgnoreCase);

    public static readonly ConsumerIndex Empty = new([]);

    public ConsumerIndex(IReadOnlyList<ConsumerConfig> consumers)
    {
        foreach (var consumer in consumers)
        {
            _byId[consumer.Id] = consumer;
            if (consumer.Username is not null)
            {
                _byReference[consumer.Username] = consumer;
            }

            if (consumer.CustomId is not null)
            {
                _byReference.TryAdd(consumer.CustomId, consumer);
            }

            foreach (var key in consumer.KeyAuthCredentials)
            {
                _keyAuth[CredentialProtector.AtRestKey(key.Key)] = (consumer, key);
            }

            foreach (var secret in consumer.JwtSecrets)
            {
                _jwt[secret.Key] = (consumer, secret);
            }

            _groups[consumer.Id] = consumer.Acls.Select(a => a.Group).ToArray();
        }
    }

    /// <summary>A consumer by id, username or custom_id (how plugin configs such as <c>anonymous</c> name one).</summary>
    public ConsumerConfig? Find(string reference) =>
        _byId.TryGetValue(reference, out var byId) ? byId : _byReference.GetValueOrDefault(reference);

    public ConsumerConfig? FindByUsername(string username) =>
        _byReference.TryGetValue(username, out var c) && c.Username == username ? c : null;

    public ConsumerConfig? FindByCustomId(string customId) =>
        _byReference.TryGetValue(customId, out var c) && c.CustomId == customId ? c : null;

    public ConsumerConfig? FindById(string id) => _byId.GetValueOrDefault(id);

    /// <summary>The key-auth credential whose key hashes to <paramref name="atRestKey"/> (<c>sha256:&lt;hex&gt;</c>).</summary>
    public bool TryGetKeyAuth(string atRestKey, out ConsumerConfig consumer, out KeyAuthCredential credential)
    {
        var found = _keyAuth.TryGetValue(atRestKey, out var entry);
        (consumer, credential) = entry;
        return found;
    }

    public bool TryGetJwtSecret(string key, out ConsumerConfig consumer, out JwtSecret secret)
    {
        var found = _jwt.TryGetValue(key, out var entry);
        (consumer, secret) = entry;
        return found;
    }

    public IReadOnlyList<string> GroupsOf(ConsumerConfig consumer) => _groups.GetValueOrDefault(consumer.Id) ?? [];
}
