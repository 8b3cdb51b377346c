using System.Security.Cryptography;
using System.Text;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Registry;

/// <summary>
/// Credentials at rest (DESIGN.md §4): key-auth keys as SHA-256 (<c>sha256:&lt;hex&gt;</c>), HMAC
/// <c>jwt_secrets</c> secrets encrypted with AES-GCM under <c>Gateway:Secrets:Key</c>
/// (<c>enc:v1:&lt;base64&gt;</c>). Import accepts both forms, so export -> import round-trips
/// without a plain secret ever leaving. Public keys stay as they are. Private keys of
/// <c>certificates</c> (upstream mTLS) are encrypted like HMAC secrets, or stay
/// <c>{vault://env/NAME}</c> references resolved when a snapshot is compiled.
/// Rotation: the previous keys (<c>Gateway:Secrets:PreviousKeys</c>) still decrypt, and every publish
/// re-encrypts what only they can read under the current key.
/// </summary>
public sealed class CredentialProtector
{
    public const string HashPrefix = "sha256:";
    public const string EncryptedPrefix = "enc:v1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[]? _key;
    private readonly byte[][] _previousKeys;

    /// <param name="key">The 256-bit secrets key, or null when none is configured (HMAC secrets then cannot be stored).</param>
    /// <param name="previousKeys">Keys being rotated out: they decrypt, never encrypt.</param>
    public CredentialProtector(byte[]? key, IReadOnlyList<byte[]>? previousKeys = null)
    {
        if (key is not null && key.Length != 32 || previousKeys?.Any(k => k.Length != 32) == true)
        {
            throw new ArgumentException("the secrets keys must be 256 bits", nameof(key));
        }

        _key = key;
        _previousKeys = previousKeys?.ToArray() ?? [];
    }

    public bool CanEncrypt => _key is not null;

    public static string HashKey(string plainKey) =>
        HashPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(plainKey)));

    /// <summary>A key-auth key in its at-rest form: plain keys hashed, hashes with lower-case hex.</summary>
    public static string AtRestKey(string key) =>
        key.StartsWith(HashPrefix, StringComparison.Ordinal) ? HashPrefix + key[HashPrefix.Length..].ToLowerInvariant() : HashKey(key);

    public static bool IsHashedKey(string key) =>
        key.StartsWith(HashPrefix, StringComparison.Ordinal) && key.Length == HashPrefix.Length + 64
        && !key.AsSpan(HashPrefix.Length).ContainsAnyExcept("0123456789abcdef");

    /// <summary>The config with every credential in its at-rest form, or the errors that prevent it.</summary>
    public GatewayConfig Protect(GatewayConfig config, List<ConfigIssue> errors)
    {
        var consumers = new List<ConsumerConfig>(config.Consumers.Count);
        for (var c = 0; c < config.Consumers.Count; c++)
        {
            var consumer = config.Consumers[c];
            var keys = consumer.KeyAuthCredentials.Select(k => k with
            {
                Key = AtRestKey(k.Key),
            }).ToList();
            for (var i = 0; i < keys.Count; i++)
            {
                if (!IsHashedKey(keys[i].Key))
                {
                    errors.Add(new($"consumers[{c}].keyauth_credentials[{i}].key", "a key starting with 'sha256:' must be 'sha256:' and 64 hex digits"));
                }
            }

            var secrets = new List<JwtSecret>(consumer.JwtSecrets.Count);
            for (var i = 0; i < consumer.JwtSecrets.Count; i++)
            {
                secrets.Add(ProtectJwt(consumer.JwtSecrets[i], $"consumers[{c}].jwt_secrets[{i}].secret", errors));
            }

            consumers.Add(consumer with { KeyAuthCredentials = keys, JwtSecrets = secrets });
        }

        var certificates = new List<CertificateConfig>(config.Certificates.Count);
        for (var i = 0; i < config.Certificates.Count; i++)
        {
            var certificate = config.Certificates[i];
            certificates.Add(VaultReference.IsReference(certificate.Key)
                ? certificate
                : certificate with { Key = ProtectSecret(certificate.Key, $"certificates[{i}].key", "private keys", errors) });
        }

        return config with { Consumers = consumers, Certificates = certificates };
    }

    private JwtSecret ProtectJwt(JwtSecret secret, string path, List<ConfigIssue> errors) =>
        secret.Secret is { } value ? secret with { Secret = ProtectSecret(value, path, "HMAC secrets", errors) } : secret;

    /// <summary>A secret in its at-rest form: <c>enc:v1:</c> values are checked, plain ones encrypted.</summary>
    private string ProtectSecret(string value, string path, string what, List<ConfigIssue> errors)
    {
        if (value.StartsWith(EncryptedPrefix, StringComparison.Ordinal))
        {
            if (_key is not null && TryDecrypt(_key, value, out _))
            {
                return value;
            }

            if (_key is not null && TryRevealWithPreviousKeys(value, out var plain))
            {
                // Encrypted under a key being rotated out: stored again under the current one.
                return Encrypt(plain);
            }

            errors.Add(new(path, "an 'enc:v1:' secret that this gateway's secrets key (Gateway:Secrets:Key) cannot decrypt"));
            return value;
        }

        if (_key is null)
        {
            errors.Add(new(path, $"{what} cannot be stored: Gateway:Secrets:Key is not configured"));
            return value;
        }

        return Encrypt(value);
    }

    private string Encrypt(string plain)
    {
        var plainBytes = Encoding.UTF8.GetBytes(plain);
        var output = new byte[NonceSize + plainBytes.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        // Synthetic nonce (as in AES-GCM-SIV's spirit): derived from the key and the plaintext, so the
        // same secret always encrypts the same way (re-importing an unchanged config changes nothing)
        // and a nonce can only repeat with the same plaintext.
        HMACSHA256.HashData(_key!, plainBytes).AsSpan(0, NonceSize).CopyTo(nonce);
        using var aes = new AesGcm(_key!, TagSize);
        aes.Encrypt(nonce, plainBytes, output.AsSpan(NonceSize, plainBytes.Length), output.AsSpan(NonceSize + plainBytes.Length));
        return EncryptedPrefix + Convert.ToBase64String(output);
    }

    /// <summary>The plain secret of an at-rest value (plain values pass through).</summary>
    public bool TryReveal(string stored, out string plain)
    {
        plain = stored;
        if (!stored.StartsWith(EncryptedPrefix, StringComparison.Ordinal))
        {
            return true;
        }

        return _key is not null && TryDecrypt(_key, stored, out plain) || TryRevealWithPreviousKeys(stored, out plain);
    }

    private bool TryRevealWithPreviousKeys(string stored, out string plain)
    {
        foreach (var key in _previousKeys)
        {
            if (TryDecrypt(key, stored, out plain))
            {
                return true;
            }
        }

        plain = stored;
        return false;
    }

    private static bool TryDecrypt(byte[] key, string stored, out string plain)
    {
        plain = stored;
        try
        {
            var data = Convert.FromBase64String(stored[EncryptedPrefix.Length..]);
            if (data.Length < NonceSize + TagSize)
            {
                return false;
            }

            var cipherLength = data.Length - NonceSize - TagSize;
            var result = new byte[cipherLength];
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize, cipherLength), data.AsSpan(NonceSize + cipherLength), result);
            plain = Encoding.UTF8.GetString(result);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }
}
