using System.Security.Cryptography;
using System.Text;
using ServerlessGateway.Configuration;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Authentication;

/// <summary>
/// One credential's key, built once (the secret decrypted, the PEM parsed) and then shared by every
/// request: the <c>jwt</c> plugin keeps one per credential for the life of its snapshot.
/// </summary>
internal abstract class JwtVerificationKey
{
    /// <summary>Checks <paramref name="signature"/> over the ASCII bytes of <c>header.payload</c>.</summary>
    public abstract bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature);

    /// <summary>
    /// The key of <paramref name="secret"/> for <paramref name="algorithm"/>, or null when there is none
    /// to use (Kong's "Invalid key/secret"). <paramref name="secretIsBase64"/> applies to HMAC secrets:
    /// Kong would also base64-decode a PEM, which can never succeed, so RS/PS/ES credentials ignore it.
    /// </summary>
    public static JwtVerificationKey? Create(JwtSecret secret, JwtAlgorithm algorithm, bool secretIsBase64, CredentialProtector protector)
    {
        if (algorithm.IsHmac)
        {
            if (secret.Secret is null || !protector.TryReveal(secret.Secret, out var plain))
            {
                return null;
            }

            var key = secretIsBase64 ? DecodeBase64(plain) : Encoding.UTF8.GetBytes(plain);
            return key is null ? null : new Hmac(key, algorithm.Hash);
        }

        if (secret.RsaPublicKey is null || JwtAlgorithm.TryImportPublicKey(algorithm, secret.RsaPublicKey, out var publicKey) is not null)
        {
            return null;
        }

        return publicKey switch
        {
            RSA rsa => new Rsa(rsa, algorithm.Hash, algorithm.Family == JwtAlgorithmFamily.RsaPss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
            ECDsa ec => new Ecdsa(ec, algorithm.Hash),
            _ => null,
        };
    }

    /// <summary>Kong's base64 decoding of secrets: either alphabet, padding optional.</summary>
    internal static byte[]? DecodeBase64(string value)
    {
        var text = value.TrimEnd('=').Replace('-', '+').Replace('_', '/');
        text = text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
        var bytes = new byte[text.Length / 4 * 3];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }

    /// <summary>
    /// HMAC verified here rather than by JsonWebTokenHandler, which refuses keys shorter than the hash
    /// (IDX10720) while Kong accepts secrets of any length; the MAC is compared in constant time.
    /// </summary>
    private sealed class Hmac(byte[] key, HashAlgorithmName hash) : JwtVerificationKey
    {
        public override bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
        {
            Span<byte> mac = stackalloc byte[HMACSHA512.HashSizeInBytes];
            var length = hash.Name switch
            {
                "SHA256" => HMACSHA256.HashData(key, signingInput, mac),
                "SHA384" => HMACSHA384.HashData(key, signingInput, mac),
                _ => HMACSHA512.HashData(key, signingInput, mac),
            };
            return CryptographicOperations.FixedTimeEquals(mac[..length], signature);
        }
    }

    /// <summary>RSASSA-PKCS1-v1_5 (RS*) or RSASSA-PSS with a salt as long as the hash (PS*, RFC 7518 §3.5).</summary>
    private sealed class Rsa(RSA key, HashAlgorithmName hash, RSASignaturePadding padding) : JwtVerificationKey
    {
        public override bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
        {
            try
            {
                return key.VerifyData(signingInput, signature, hash, padding);
            }
            catch (CryptographicException)
            {
                return false;
            }
        }
    }

    /// <summary>ECDSA with JWS's signature format: r || s, each the curve's size (IEEE P1363, RFC 7518 §3.4).</summary>
    private sealed class Ecdsa(ECDsa key, HashAlgorithmName hash) : JwtVerificationKey
    {
        public override bool Verify(ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
        {
            try
            {
                return key.VerifyData(signingInput, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }
            catch (CryptographicException)
            {
                return false;
            }
        }
    }
}
