using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>A signing key of a test issuer: its public JWK, and tokens signed in the test.</summary>
internal sealed class TestSigningKey : IDisposable
{
    private readonly RSA? _rsa;
    private readonly ECDsa? _ec;

    private TestSigningKey(string kid, string alg, RSA? rsa, ECDsa? ec)
    {
        Kid = kid;
        Alg = alg;
        _rsa = rsa;
        _ec = ec;
    }

    public string Kid { get; }

    public string Alg { get; }

    public static TestSigningKey Rsa(string kid, string alg = "RS256", int bits = 2048) => new(kid, alg, RSA.Create(bits), null);

    public static TestSigningKey Ec(string kid, string alg = "ES256") => new(kid, alg, null, ECDsa.Create(alg switch
    {
        "ES256" => ECCurve.NamedCurves.nistP256,
        "ES384" => ECCurve.NamedCurves.nistP384,
        _ => ECCurve.NamedCurves.nistP521,
    }));

    public JsonObject Jwk()
    {
        if (_rsa is not null)
        {
            var p = _rsa.ExportParameters(false);
            return new JsonObject { ["kty"] = "RSA", ["use"] = "sig", ["kid"] = Kid, ["n"] = B64(p.Modulus!), ["e"] = B64(p.Exponent!) };
        }

        var q = _ec!.ExportParameters(false);
        var crv = Alg switch { "ES256" => "P-256", "ES384" => "P-384", _ => "P-521" };
        return new JsonObject { ["kty"] = "EC", ["use"] = "sig", ["kid"] = Kid, ["crv"] = crv, ["x"] = B64(q.Q.X!), ["y"] = B64(q.Q.Y!) };
    }

    public static string Jwks(params TestSigningKey[] keys) => new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k.Jwk())]) }.ToJsonString();

    /// <summary>A compact JWS over <paramref name="claims"/>; <paramref name="header"/> entries override the defaults (alg, typ, kid; null removes).</summary>
    public string Sign(JsonObject claims, JsonObject? header = null, string? alg = null)
    {
        var head = new JsonObject { ["alg"] = alg ?? Alg, ["typ"] = "JWT", ["kid"] = Kid };
        foreach (var (name, value) in header ?? [])
        {
            head[name] = value?.DeepClone();
        }

        foreach (var name in head.Where(p => p.Value is null).Select(p => p.Key).ToList())
        {
            head.Remove(name);
        }

        var signingInput = B64(Encoding.UTF8.GetBytes(head.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        return signingInput + "." + B64(SignBytes(Encoding.ASCII.GetBytes(signingInput), alg ?? Alg));
    }

    public byte[] SignBytes(byte[] data, string alg)
    {
        var hash = alg[2..] switch { "256" => HashAlgorithmName.SHA256, "384" => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
        return alg[0] switch
        {
            'R' => _rsa!.SignData(data, hash, RSASignaturePadding.Pkcs1),
            'P' => _rsa!.SignData(data, hash, RSASignaturePadding.Pss),
            _ => _ec!.SignData(data, hash),
        };
    }

    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public void Dispose()
    {
        _rsa?.Dispose();
        _ec?.Dispose();
    }
}
