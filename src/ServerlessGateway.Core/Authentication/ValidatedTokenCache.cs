using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Authentication;

/// <summary>What a validated token established, kept so a repeated token costs a lookup, not a signature check.</summary>
internal sealed record ValidatedToken(
    ConsumerConfig? Consumer,
    string CredentialIdentifier,
    IReadOnlyDictionary<string, object?> Claims,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter);

/// <summary>
/// Validated tokens of one plugin instance. Each instance belongs to one config snapshot, so a config
/// change (a deleted credential, a new key) starts from an empty cache. Keyed by the token's SHA-256
/// (the token itself is never kept), bounded in size, and an entry is never used outside the token's
/// own validity window (<c>nbf</c>..<c>exp</c>).
/// </summary>
internal sealed class ValidatedTokenCache(TimeProvider time, int capacity = 10_000)
{
    private readonly ConcurrentDictionary<TokenHash, ValidatedToken> _entries = new();
    private int _added;

    public bool TryGet(string token, out ValidatedToken validated)
    {
        if (_entries.TryGetValue(TokenHash.Of(token), out validated!))
        {
            var now = time.GetUtcNow();
            if (now >= validated.NotBefore && now < validated.NotAfter)
            {
                return true;
            }

            _entries.TryRemove(TokenHash.Of(token), out _);
        }

        validated = null!;
        return false;
    }

    public void Add(string token, ValidatedToken validated)
    {
        // ConcurrentDictionary.Count takes every lock: keep an approximate count instead.
        if (Volatile.Read(ref _added) >= capacity)
        {
            // Bounded: a flood of distinct tokens empties the cache instead of growing it.
            _entries.Clear();
            Interlocked.Exchange(ref _added, 0);
        }

        var hash = TokenHash.Of(token);
        if (_entries.TryAdd(hash, validated))
        {
            Interlocked.Increment(ref _added);
        }
        else
        {
            _entries[hash] = validated;
        }
    }

    public int Count => _entries.Count;

    private readonly record struct TokenHash(ulong A, ulong B, ulong C, ulong D)
    {
        public static TokenHash Of(string token)
        {
            Span<byte> hash = stackalloc byte[32];
            var length = Encoding.UTF8.GetByteCount(token);
            if (length <= 4096)
            {
                Span<byte> bytes = stackalloc byte[length];
                Encoding.UTF8.GetBytes(token, bytes);
                SHA256.HashData(bytes, hash);
            }
            else
            {
                SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
            }

            return new TokenHash(
                BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]),
                BitConverter.ToUInt64(hash[16..24]), BitConverter.ToUInt64(hash[24..]));
        }
    }
}
