using System.Collections.Frozen;
using System.Security.Cryptography;

namespace ServerlessGateway.Authentication;

internal enum JwtAlgorithmFamily
{
    Hmac,
    RsaPkcs1,
    RsaPss,
    Ecdsa,
}

/// <summary>
/// The JWS algorithms (RFC 7518 §3.1) the <c>jwt</c> plugin verifies: the ones Kong 3.x lists for
/// <c>jwt_secrets.algorithm</c>, less EdDSA, which .NET cannot verify (rejected by name at import).
/// Names are case-sensitive, as in JWS: <c>hs256</c> is not <c>HS256</c>, and <c>none</c> in any case is
/// never an algorithm here.
/// </summary>
internal sealed record JwtAlgorithm(string Name, JwtAlgorithmFamily Family, HashAlgorithmName Hash, int CurveBits = 0)
{
    public static readonly FrozenDictionary<string, JwtAlgorithm> All = new JwtAlgorithm[]
    {
        new("HS256", JwtAlgorithmFamily.Hmac, HashAlgorithmName.SHA256),
        new("HS384", JwtAlgorithmFamily.Hmac, HashAlgorithmName.SHA384),
        new("HS512", JwtAlgorithmFamily.Hmac, HashAlgorithmName.SHA512),
        new("RS256", JwtAlgorithmFamily.RsaPkcs1, HashAlgorithmName.SHA256),
        new("RS384", JwtAlgorithmFamily.RsaPkcs1, HashAlgorithmName.SHA384),
        new("RS512", JwtAlgorithmFamily.RsaPkcs1, HashAlgorithmName.SHA512),
        new("PS256", JwtAlgorithmFamily.RsaPss, HashAlgorithmName.SHA256),
        new("PS384", JwtAlgorithmFamily.RsaPss, HashAlgorithmName.SHA384),
        new("PS512", JwtAlgorithmFamily.RsaPss, HashAlgorithmName.SHA512),
        new("ES256", JwtAlgorithmFamily.Ecdsa, HashAlgorithmName.SHA256, 256),
        new("ES384", JwtAlgorithmFamily.Ecdsa, HashAlgorithmName.SHA384, 384),
        new("ES512", JwtAlgorithmFamily.Ecdsa, HashAlgorithmName.SHA512, 521),
    }.ToFrozenDictionary(a => a.Name, StringComparer.Ordinal);

    public const string Supported = "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512";

    /// <summary>The named curve each ES algorithm requires (RFC 7518 §3.4), by OID.</summary>
    private static readonly FrozenDictionary<int, (string Oid, string Name)> Curves = new Dictionary<int, (string, string)>
    {
        [256] = ("1.2.840.10045.3.1.7", "P-256"),
        [384] = ("1.3.132.0.34", "P-384"),
        [521] = ("1.3.132.0.35", "P-521"),
    }.ToFrozenDictionary();

    public bool IsHmac => Family == JwtAlgorithmFamily.Hmac;

    /// <summary>
    /// Import-time checks of one <c>jwt_secrets</c> entry; <paramref name="error"/> receives the field
    /// name and the message. Kong's rules, stated plainly: HMAC credentials need <c>secret</c>, the
    /// others a PEM public key in <c>rsa_public_key</c> (Kong uses that field for EC keys too).
    /// </summary>
    public static void ValidateCredential(string algorithm, string? secret, string? publicKey, Action<string, string> error)
    {
        if (!All.TryGetValue(algorithm, out var alg))
        {
            error("algorithm", algorithm.Equals("EdDSA", StringComparison.OrdinalIgnoreCase)
                ? "EdDSA is not supported by this gateway (.NET has no Ed25519 signature verification); use ES256 or RS256"
                : $"unsupported algorithm '{algorithm}': expected one of {Supported}");
            return;
        }

        if (alg.IsHmac)
        {
            if (string.IsNullOrEmpty(secret))
            {
                error("secret", $"required for {alg.Name}: the HMAC secret tokens are signed with");
            }

            return;
        }

        if (string.IsNullOrEmpty(publicKey))
        {
            error("rsa_public_key", $"required for {alg.Name}: the PEM public key tokens are verified with");
            return;
        }

        var problem = TryImportPublicKey(alg, publicKey, out var key);
        key?.Dispose();
        if (problem is not null)
        {
            error("rsa_public_key", problem);
        }
    }

    /// <summary>
    /// The public key of an RS/PS (RSA) or ES (EC, on the algorithm's curve) credential, or why the PEM
    /// is not one. Private keys are refused: the gateway only verifies, and a private key would be a
    /// secret kept in plain text in config exports.
    /// </summary>
    public static string? TryImportPublicKey(JwtAlgorithm algorithm, string pem, out AsymmetricAlgorithm? key)
    {
        key = null;
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            return "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)";
        }

        var label = pem.AsSpan()[fields.Label];
        if (label.Contains("PRIVATE", StringComparison.Ordinal))
        {
            return "a private key: give only the public key (-----BEGIN PUBLIC KEY-----); the gateway never needs the private key";
        }

        if (algorithm.Family == JwtAlgorithmFamily.Ecdsa)
        {
            if (!label.SequenceEqual("PUBLIC KEY"))
            {
                return $"expected an EC public key (-----BEGIN PUBLIC KEY-----), found '{label}'";
            }

            var ec = ECDsa.Create();
            try
            {
                ec.ImportFromPem(pem);
                var curve = Curves[algorithm.CurveBits];
                var oid = ec.ExportParameters(includePrivateParameters: false).Curve.Oid;
                if (oid?.Value != curve.Oid)
                {
                    ec.Dispose();
                    return $"{algorithm.Name} needs an EC key on curve {curve.Name}; this key is on {oid?.FriendlyName ?? oid?.Value ?? "another curve"}";
                }
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                ec.Dispose();
                return $"not a valid EC public key for {algorithm.Name}";
            }

            key = ec;
            return null;
        }

        if (!label.SequenceEqual("PUBLIC KEY") && !label.SequenceEqual("RSA PUBLIC KEY"))
        {
            return $"expected an RSA public key (-----BEGIN PUBLIC KEY----- or -----BEGIN RSA PUBLIC KEY-----), found '{label}'";
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            return $"not a valid RSA public key for {algorithm.Name}";
        }

        key = rsa;
        return null;
    }
}
