using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A local OpenID provider on a loopback port (a <see cref="TestBackend"/>): discovery documents for an
/// Entra ID v2-shaped issuer (<c>/tenant/v2.0</c>) and a v1-shaped one (<c>/sts/tenant/</c>, as
/// sts.windows.net), both pointing at one JWK set (<c>/keys</c>), and tokens signed in the test with
/// published or unpublished keys.
/// </summary>
public sealed class TestIdentityProvider : IAsyncDisposable
{
    // Generated once per test run: RSA key generation is slow and the keys are never mutated.
    private static readonly RSA PublishedRsa = RSA.Create(2048);
    private static readonly ECDsa PublishedEc = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private static readonly RSA UnpublishedRsa = RSA.Create(2048);

    private TestBackend _backend = null!;

    private TestIdentityProvider()
    {
    }

    public const string RsaKid = "rsa-1";
    public const string EcKid = "ec-1";
    public const string UnpublishedKid = "rsa-unpublished";

    public string Url => _backend.Url;

    public string IssuerV2 => $"{Url}/tenant/v2.0";

    public string IssuerV1 => $"{Url}/sts/tenant/";

    public string JwksUri => $"{Url}/keys";

    /// <summary>How often the v2 issuer's discovery document was fetched: once per refresh of its key set.</summary>
    public int DiscoveryFetchesV2 => _backend.Requests.Count(r => r.RawTarget == "/tenant/v2.0/.well-known/openid-configuration");

    /// <summary>When set, every endpoint answers 503.</summary>
    public bool Down { get; set; }

    public static async Task<TestIdentityProvider> StartAsync()
    {
        var idp = new TestIdentityProvider();
        idp._backend = await TestBackend.StartAsync(idp.HandleAsync);
        return idp;
    }

    private Task HandleAsync(HttpContext context)
    {
        if (Down)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        }

        JsonObject? body = context.Request.Path.Value switch
        {
            "/tenant/v2.0/.well-known/openid-configuration" => new JsonObject { ["issuer"] = IssuerV2, ["jwks_uri"] = JwksUri },
            "/sts/tenant/.well-known/openid-configuration" => new JsonObject { ["issuer"] = IssuerV1, ["jwks_uri"] = JwksUri },
            "/keys" => new JsonObject { ["keys"] = new JsonArray(RsaJwk(), EcJwk()) },
            _ => null,
        };
        if (body is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    private static JsonObject RsaJwk()
    {
        var p = PublishedRsa.ExportParameters(false);
        return new JsonObject { ["kty"] = "RSA", ["use"] = "sig", ["kid"] = RsaKid, ["n"] = B64(p.Modulus!), ["e"] = B64(p.Exponent!) };
    }

    private static JsonObject EcJwk()
    {
        var p = PublishedEc.ExportParameters(false);
        return new JsonObject { ["kty"] = "EC", ["use"] = "sig", ["kid"] = EcKid, ["crv"] = "P-256", ["x"] = B64(p.Q.X!), ["y"] = B64(p.Q.Y!) };
    }

    /// <summary>
    /// A compact JWS of <paramref name="claims"/> signed by the key <paramref name="kid"/> names (the
    /// unpublished one for <see cref="UnpublishedKid"/>); <paramref name="header"/> entries override the
    /// header (null removes one).
    /// </summary>
    public static string Sign(JsonObject claims, string kid = RsaKid, JsonObject? header = null)
    {
        var alg = kid == EcKid ? "ES256" : "RS256";
        var head = new JsonObject { ["alg"] = alg, ["typ"] = "JWT", ["kid"] = kid };
        foreach (var (name, value) in header ?? [])
        {
            head[name] = value?.DeepClone();
        }

        foreach (var name in head.Where(p => p.Value is null).Select(p => p.Key).ToList())
        {
            head.Remove(name);
        }

        var input = B64(Encoding.UTF8.GetBytes(head.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var data = Encoding.ASCII.GetBytes(input);
        var signature = kid switch
        {
            EcKid => PublishedEc.SignData(data, HashAlgorithmName.SHA256),
            UnpublishedKid => UnpublishedRsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => PublishedRsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        };
        return input + "." + B64(signature);
    }

    /// <summary>A token with the header and claims given, and no signature (<c>alg: none</c> style).</summary>
    public static string Unsigned(JsonObject claims, string alg = "none") =>
        B64(Encoding.UTF8.GetBytes(new JsonObject { ["alg"] = alg, ["typ"] = "JWT" }.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString())) + ".";

    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}
