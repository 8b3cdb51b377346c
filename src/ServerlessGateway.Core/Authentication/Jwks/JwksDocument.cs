using System.Buffers.Text;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace ServerlessGateway.Authentication.Jwks;

/// <summary>
/// A parsed JSON Web Key Set (RFC 7517 §5): the RSA and EC signature keys of an issuer, by <c>kid</c>.
/// Keys that cannot verify signatures (symmetric <c>oct</c> keys, encryption keys, unknown curves,
/// RSA below 2048 bits, malformed members) are skipped one by one, so one odd key never costs the
/// issuer its other keys; a set left with no usable key is refused as a whole.
/// </summary>
internal sealed class JwksDocument
{
    /// <summary>More keys than any issuer publishes (Entra ID serves a handful); bounds the work a hostile set can cause.</summary>
    public const int MaxKeys = 100;
    private const int MinimumRsaBits = 2048;
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };

    private readonly FrozenDictionary<string, SigningKey[]> _byKid;

    private JwksDocument(SigningKey[] keys, int skipped)
    {
        Keys = keys;
        Skipped = skipped;
        _byKid = keys.Where(k => k.Kid is not null)
            .GroupBy(k => k.Kid!, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    public IReadOnlyList<SigningKey> Keys { get; }

    /// <summary>How many entries of the set were not usable signature keys.</summary>
    public int Skipped { get; }

    /// <summary>The keys carrying <paramref name="kid"/>, or empty.</summary>
    public SigningKey[] WithKid(string kid) => _byKid.GetValueOrDefault(kid) ?? [];

    public static JwksDocument? Parse(ReadOnlyMemory<byte> json, out string error)
    {
        error = "";
        try
        {
            using var document = JsonDocument.Parse(json, JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                error = "the document is not a JWK set (no 'keys' array)";
                return null;
            }

            var parsed = new List<SigningKey>();
            var skipped = 0;
            foreach (var key in keys.EnumerateArray())
            {
                if (parsed.Count == MaxKeys)
                {
                    skipped++;
                    continue;
                }

                if (TryParseKey(key) is { } signingKey)
                {
                    parsed.Add(signingKey);
                }
                else
                {
                    skipped++;
                }
            }

            if (parsed.Count == 0)
            {
                error = "the JWK set has no usable RSA or EC signature key";
                return null;
            }

            return new JwksDocument([.. parsed], skipped);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not text (an escaped lone surrogate, invalid UTF-8), thrown when read.
            error = "the JWK set is not valid JSON";
            return null;
        }
    }

    private static SigningKey? TryParseKey(JsonElement key)
    {
        if (key.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        // RFC 7517 §4.2/§4.3: a key meant for encryption, or not for verification, is not ours to use.
        if (OptionalString(key, "use") is { } use && use != "sig")
        {
            return null;
        }

        if (key.TryGetProperty("key_ops", out var ops)
            && (ops.ValueKind != JsonValueKind.Array || !ops.EnumerateArray().Any(o => o.ValueKind == JsonValueKind.String && o.ValueEquals("verify"))))
        {
            return null;
        }

        var kid = OptionalString(key, "kid");
        var alg = OptionalString(key, "alg");
        if (alg is not null && !SigningKey.SupportedAlgorithms(alg))
        {
            return null;
        }

        try
        {
            return OptionalString(key, "kty") switch
            {
                "RSA" => ParseRsa(key, kid, alg),
                "EC" => ParseEc(key, kid, alg),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
        {
            return null;
        }
    }

    private static SigningKey? ParseRsa(JsonElement key, string? kid, string? alg)
    {
        if (alg is not null && alg[0] is not ('R' or 'P'))
        {
            return null;
        }

        RSA rsa;
        if (Base64UrlMember(key, "n") is { } modulus && Base64UrlMember(key, "e") is { } exponent)
        {
            rsa = RSA.Create(new RSAParameters { Modulus = TrimLeadingZeros(modulus), Exponent = TrimLeadingZeros(exponent) });
        }
        else if (FirstCertificate(key) is { } der)
        {
            // Some issuers publish only the certificate chain (x5c, RFC 7517 §4.7): its leaf carries the key.
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            if (certificate.GetRSAPublicKey() is not { } fromCertificate)
            {
                return null;
            }

            rsa = fromCertificate;
        }
        else
        {
            return null;
        }

        if (rsa.KeySize < MinimumRsaBits)
        {
            rsa.Dispose();
            return null;
        }

        return SigningKey.ForRsa(kid, alg, rsa);
    }

    private static SigningKey? ParseEc(JsonElement key, string? kid, string? alg)
    {
        var (curve, algorithm, size) = OptionalString(key, "crv") switch
        {
            "P-256" => (ECCurve.NamedCurves.nistP256, "ES256", 32),
            "P-384" => (ECCurve.NamedCurves.nistP384, "ES384", 48),
            "P-521" => (ECCurve.NamedCurves.nistP521, "ES512", 66),
            _ => (default(ECCurve), "", 0),
        };
        if (size == 0 || (alg is not null && alg != algorithm))
        {
            return null;
        }

        var x = Base64UrlMember(key, "x");
        var y = Base64UrlMember(key, "y");
        if (x is null || y is null || x.Length != size || y.Length != size)
        {
            return null;
        }

        // ImportParameters checks that the point is on the curve.
        var ec = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
        return SigningKey.ForEc(kid, alg, ec, algorithm);
    }

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Base64UrlMember(JsonElement element, string name)
    {
        if (OptionalString(element, name) is not { Length: > 0 } text)
        {
            return null;
        }

        var bytes = new byte[Base64Url.GetMaxDecodedLength(text.Length)];
        return Base64Url.TryDecodeFromChars(text, bytes, out var written) ? bytes[..written] : null;
    }

    private static byte[]? FirstCertificate(JsonElement key)
    {
        if (!key.TryGetProperty("x5c", out var chain) || chain.ValueKind != JsonValueKind.Array || chain.GetArrayLength() == 0)
        {
            return null;
        }

        var first = chain[0];
        // x5c entries are standard base64 (RFC 7517 §4.7), unlike every other JWK member.
        return first.ValueKind == JsonValueKind.String ? Convert.FromBase64String(first.GetString()!) : null;
    }

    private static byte[] TrimLeadingZeros(byte[] value)
    {
        var start = 0;
        while (start < value.Length - 1 && value[start] == 0)
        {
            start++;
        }

        return start == 0 ? value : value[start..];
    }
}
