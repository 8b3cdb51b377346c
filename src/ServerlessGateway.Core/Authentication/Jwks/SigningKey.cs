using System.Security.Cryptography;

namespace ServerlessGateway.Authentication.Jwks;

/// <summary>
/// One public signing key of an issuer (an RSA or EC JWK, RFC 7517 §4 / RFC 7518 §6), imported once
/// and shared by every validation. The in-box RSA and ECDsa types verify concurrently once imported
/// (an implicit guarantee the .NET team keeps: dotnet/corefx#9708), and keys are never mutated.
/// </summary>
internal sealed class SigningKey
{
    private readonly RSA? _rsa;
    private readonly ECDsa? _ec;
    private readonly string? _curveAlgorithm;

    private SigningKey(string? kid, string? algorithm, RSA? rsa, ECDsa? ec, string? curveAlgorithm)
    {
        Kid = kid;
        Algorithm = algorithm;
        _rsa = rsa;
        _ec = ec;
        _curveAlgorithm = curveAlgorithm;
    }

    public string? Kid { get; }

    /// <summary>The JWK's own <c>alg</c>, when it pins one (RFC 7517 §4.4).</summary>
    public string? Algorithm { get; }

    public bool IsRsa => _rsa is not null;

    public static SigningKey ForRsa(string? kid, string? algorithm, RSA rsa) => new(kid, algorithm, rsa, null, null);

    /// <summary>An EC key; <paramref name="curveAlgorithm"/> is the one JWS algorithm its curve serves (ES256 for P-256, ...).</summary>
    public static SigningKey ForEc(string? kid, string? algorithm, ECDsa ec, string curveAlgorithm) => new(kid, algorithm, null, ec, curveAlgorithm);

    /// <summary>True when this key may verify a token signed with <paramref name="alg"/> (key type, curve, pinned alg).</summary>
    public bool Supports(string alg)
    {
        if (Algorithm is not null && !string.Equals(Algorithm, alg, StringComparison.Ordinal))
        {
            return false;
        }

        return alg[0] switch
        {
            'R' or 'P' => _rsa is not null,
            'E' => _ec is not null && string.Equals(_curveAlgorithm, alg, StringComparison.Ordinal),
            _ => false,
        };
    }

    /// <summary>Verifies a JWS signature (RFC 7518 §3.3-§3.5); <paramref name="alg"/> is one of <see cref="SupportedAlgorithms"/>.</summary>
    public bool Verify(string alg, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        if (!Supports(alg))
        {
            return false;
        }

        var hash = HashOf(alg);
        try
        {
            return alg[0] switch
            {
                'R' => _rsa!.VerifyData(signingInput, signature, hash, RSASignaturePadding.Pkcs1),
                'P' => _rsa!.VerifyData(signingInput, signature, hash, RSASignaturePadding.Pss),
                // JWS carries ECDSA signatures as R || S (IEEE P1363), the .NET default format.
                _ => _ec!.VerifyData(signingInput, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>The asymmetric JWS algorithms accepted from an OIDC issuer. Never <c>none</c>, never HMAC (a public key is no secret).</summary>
    public static bool SupportedAlgorithms(string alg) => alg is
        "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512" or "ES256" or "ES384" or "ES512";

    private static HashAlgorithmName HashOf(string alg) => alg.AsSpan(2) switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };
}
