using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Authentication;
using ServerlessGateway.Authentication.Jwks;

namespace ServerlessGateway.Tests.Authentication;

public sealed class OidcTokenValidatorTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly FakeIdentityProvider _idp = new();
    // Generated once: key generation dominates these tests otherwise.
    private static readonly TestSigningKey Rsa = TestSigningKey.Rsa("rsa");
    private static readonly TestSigningKey Ps = TestSigningKey.Rsa("ps", "PS256");
    private static readonly TestSigningKey Es256 = TestSigningKey.Ec("es256");
    private static readonly TestSigningKey Es384 = TestSigningKey.Ec("es384", "ES384");
    private static readonly TestSigningKey Es512 = TestSigningKey.Ec("es512", "ES512");
    private static readonly TestSigningKey Impostor = TestSigningKey.Rsa("rsa");
    private static readonly TestSigningKey Stranger = TestSigningKey.Rsa("stranger");
    private readonly OidcKeyCache _cache;

    public OidcTokenValidatorTests()
    {
        _idp.Jwks = TestSigningKey.Jwks(Rsa, Ps, Es256, Es384, Es512);
        _cache = new OidcKeyCache(_idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
    }

    public void Dispose()
    {
        _cache.Dispose();
        _idp.Dispose();
    }

    private long Now => _time.GetUtcNow().ToUnixTimeSeconds();

    private JsonObject Claims(string issuer = FakeIdentityProvider.Issuer) => new()
    {
        ["iss"] = issuer,
        ["sub"] = "user-1",
        ["aud"] = "api://gateway",
        ["iat"] = Now - 10,
        ["nbf"] = Now - 10,
        ["exp"] = Now + 3600,
    };

    private OidcTokenValidator Validator(string? issuer = null, TimeSpan? leeway = null, string[]? allowed = null) =>
        new(_cache, new OidcValidationParameters(
            issuer is null ? OidcKeySource.ForIssuer(FakeIdentityProvider.Issuer, out _)! : OidcKeySource.ForJwksUri(FakeIdentityProvider.JwksUrl, out _)!,
            allowed,
            leeway ?? TimeSpan.Zero,
            OidcKeyCache.DefaultMinRefreshInterval), _time);

    private async Task<OidcValidation> Validate(string token, OidcTokenValidator? validator = null) =>
        await (validator ?? Validator()).ValidateAsync(token, CancellationToken.None);

    private async Task AssertInvalid(string token, string description, OidcTokenValidator? validator = null)
    {
        var result = await Validate(token, validator);
        Assert.Equal(OidcFailure.InvalidToken, result.Failure);
        Assert.Contains(description, result.Description, StringComparison.Ordinal);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("rsa", "RS256")]
    [InlineData("rsa", "RS384")]
    [InlineData("rsa", "RS512")]
    [InlineData("ps", "PS256")]
    [InlineData("ps", "PS384")]
    [InlineData("ps", "PS512")]
    [InlineData("es256", "ES256")]
    [InlineData("es384", "ES384")]
    [InlineData("es512", "ES512")]
    public async Task Tokens_signed_with_each_supported_algorithm_validate(string kid, string alg)
    {
        var key = new[] { Rsa, Ps, Es256, Es384, Es512 }.Single(k => k.Kid == kid);

        var result = await Validate(key.Sign(Claims(), alg: alg));

        Assert.Equal(OidcFailure.None, result.Failure);
        Assert.Equal("user-1", result.Claims!["sub"]);
        Assert.Equal(_time.GetUtcNow().AddHours(1), result.NotAfter);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    [InlineData("HS256")]
    [InlineData("EdDSA")]
    [InlineData("")]
    public async Task Alg_none_hmac_and_unknown_algorithms_are_refused(string alg)
    {
        var unsigned = TestSigningKey.B64(Encoding.UTF8.GetBytes($$"""{"alg":"{{alg}}","kid":"rsa"}""")) + "."
            + TestSigningKey.B64(Encoding.UTF8.GetBytes(Claims().ToJsonString()));

        await AssertInvalid(unsigned + ".", "not signed");
        await AssertInvalid(unsigned + ".c2ln", "signing algorithm is not accepted");
    }

    [Fact(Timeout = 10_000)]
    public async Task Hs256_signed_with_the_public_key_as_secret_is_refused()
    {
        // Algorithm confusion: an attacker signs with HMAC using the published RSA key as the secret.
        var header = TestSigningKey.B64(Encoding.UTF8.GetBytes("""{"alg":"HS256","kid":"rsa"}"""));
        var payload = TestSigningKey.B64(Encoding.UTF8.GetBytes(Claims().ToJsonString()));
        var secret = Encoding.UTF8.GetBytes(Rsa.Jwk().ToJsonString());
        var mac = System.Security.Cryptography.HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(header + "." + payload));

        await AssertInvalid($"{header}.{payload}.{TestSigningKey.B64(mac)}", "signing algorithm is not accepted");
    }

    [Fact(Timeout = 10_000)]
    public async Task Tampered_or_stripped_signatures_fail()
    {
        var token = Rsa.Sign(Claims());
        var parts = token.Split('.');
        var swapped = Claims();
        swapped["sub"] = "admin";

        await AssertInvalid($"{parts[0]}.{TestSigningKey.B64(Encoding.UTF8.GetBytes(swapped.ToJsonString()))}.{parts[2]}", "signature is invalid");
        await AssertInvalid($"{parts[0]}.{parts[1]}.{parts[2][..^4]}AAAA", "signature is invalid");
        await AssertInvalid($"{parts[0]}.{parts[1]}.", "not signed");
        await AssertInvalid($"{parts[0]}.{parts[1]}", "not a signed JWT");
        // A signature by another key under this key's kid.
        await AssertInvalid(Impostor.Sign(Claims()), "signature is invalid");
        // An EC signature naming the RSA key's kid: that key cannot verify ES256.
        await AssertInvalid(Es256.Sign(Claims(), new JsonObject { ["kid"] = "rsa" }, alg: "ES256"), "signing key is not known");
    }

    [Theory(Timeout = 10_000)]
    [InlineData("a.b.c.d.e", "not a signed JWT")]
    [InlineData("abc", "not a signed JWT")]
    [InlineData("a+b.c.d", "not valid base64url")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.e30=.c2ln", "not valid base64url")]
    [InlineData("bm90IGpzb24.e30.c2ln", "not valid JSON")]
    [InlineData("WzFd.e30.c2ln", "not a JSON object")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.WzFd.c2ln", "not a JSON object")]
    [InlineData("eyJhbGciOiJSUzI1NiIsImFsZyI6Im5vbmUifQ.e30.c2ln", "not valid JSON")]
    // {"alg":"RS256","kid":"\ud800"} and {"sub":"<0xFF>"}: not text, which threw InvalidOperationException (found by JwtTokenProperties).
    [InlineData("eyJhbGciOiJSUzI1NiIsImtpZCI6Ilx1ZDgwMCJ9.e30.c2ln", "not valid JSON")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiL_In0.c2ln", "not valid JSON")]
    [InlineData("eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.c2ln", "critical header")]
    [InlineData("eyJhbGciOiJSUzI1NiIsImtpZCI6MX0.e30.c2ln", "key id is not a string")]
    public async Task Malformed_tokens_are_invalid_never_exceptions(string token, string description)
    {
        await AssertInvalid(token, description);
        Assert.Equal(0, _idp.JwksHits);
    }

    [Fact(Timeout = 10_000)]
    public async Task Duplicate_claims_and_oversize_tokens_are_refused()
    {
        var header = TestSigningKey.B64(Encoding.UTF8.GetBytes("""{"alg":"RS256","kid":"rsa"}"""));
        var payload = TestSigningKey.B64(Encoding.UTF8.GetBytes($$"""{"sub":"a","sub":"admin","exp":{{Now + 60}}}"""));
        var signature = TestSigningKey.B64(Rsa.SignBytes(Encoding.ASCII.GetBytes(header + "." + payload), "RS256"));
        await AssertInvalid($"{header}.{payload}.{signature}", "not valid JSON");

        var big = Claims();
        big["padding"] = new string('x', OidcTokenValidator.MaxTokenLength);
        await AssertInvalid(Rsa.Sign(big), "too large");
    }

    [Fact(Timeout = 10_000)]
    public async Task Expiry_and_not_before_are_checked_with_the_leeway()
    {
        var expired = Claims();
        expired["exp"] = Now - 30;
        var future = Claims();
        future["nbf"] = Now + 30;
        var noExp = Claims();
        noExp.Remove("exp");
        var textExp = Claims();
        textExp["exp"] = (Now + 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var textNbf = Claims();
        textNbf["nbf"] = "soon";
        var atExp = Claims();
        atExp["exp"] = Now;

        await AssertInvalid(Rsa.Sign(expired), "expired");
        await AssertInvalid(Rsa.Sign(atExp), "expired");
        await AssertInvalid(Rsa.Sign(future), "not valid yet");
        await AssertInvalid(Rsa.Sign(noExp), "no valid expiry");
        await AssertInvalid(Rsa.Sign(textExp), "no valid expiry");
        await AssertInvalid(Rsa.Sign(textNbf), "nbf is not a number");

        var lenient = Validator(leeway: TimeSpan.FromSeconds(60));
        Assert.Equal(OidcFailure.None, (await Validate(Rsa.Sign(expired), lenient)).Failure);
        Assert.Equal(OidcFailure.None, (await Validate(Rsa.Sign(future), lenient)).Failure);
        var result = await Validate(Rsa.Sign(expired), lenient);
        Assert.Equal(_time.GetUtcNow().AddSeconds(30), result.NotAfter);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_issuer_must_be_the_one_discovery_states_or_one_allowed()
    {
        await AssertInvalid(Rsa.Sign(Claims("https://evil.test/tenant/v2.0")), "issuer is not accepted");
        var noIss = Claims();
        noIss.Remove("iss");
        await AssertInvalid(Rsa.Sign(noIss), "issuer is not accepted");

        var allowed = Validator(allowed: ["https://other.test/"]);
        Assert.Equal(OidcFailure.None, (await Validate(Rsa.Sign(Claims("https://other.test/")), allowed)).Failure);
        await AssertInvalid(Rsa.Sign(Claims()), "issuer is not accepted", allowed);

        // A bare jwks_uri states no issuer: iss is checked only when issuers are configured.
        var bare = Validator(issuer: "jwks");
        Assert.Equal(OidcFailure.None, (await Validate(Rsa.Sign(Claims("https://anyone.test/")), bare)).Failure);
    }

    [Fact(Timeout = 10_000)]
    public async Task Tokens_without_kid_are_tried_against_the_keys_of_their_type()
    {
        var token = Es256.Sign(Claims(), new JsonObject { ["kid"] = null });

        Assert.Equal(OidcFailure.None, (await Validate(token)).Failure);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_unknown_kid_is_invalid_and_an_unreachable_idp_is_unavailable()
    {
        await AssertInvalid(Stranger.Sign(Claims()), "signing key is not known");

        using var down = new FakeIdentityProvider { Down = true };
        using var cache = new OidcKeyCache(down.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
        var validator = new OidcTokenValidator(cache, Validator().Parameters, _time);
        var result = await validator.ValidateAsync(Rsa.Sign(Claims()), CancellationToken.None);
        Assert.Equal(OidcFailure.KeysUnavailable, result.Failure);
    }

    [Fact(Timeout = 10_000)]
    public async Task Entra_v1_and_v2_shaped_tokens_validate_against_their_own_issuers()
    {
        const string Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        // As Entra ID's v1 discovery document, it states the sts.windows.net issuer v1 tokens carry.
        var v1Idp = new FakeIdentityProvider { Jwks = TestSigningKey.Jwks(Rsa), DiscoveredIssuer = $"https://sts.windows.net/{Tenant}/" };
        using var v1Cache = new OidcKeyCache(v1Idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
        var v1 = new JsonObject
        {
            ["aud"] = "api://gateway-admin",
            ["iss"] = $"https://sts.windows.net/{Tenant}/",
            ["iat"] = Now, ["nbf"] = Now - 300, ["exp"] = Now + 3600,
            ["appid"] = "11111111-2222-3333-4444-555555555555",
            ["oid"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            ["roles"] = new JsonArray("Gateway.Admin"),
            ["sub"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            ["tid"] = Tenant,
            ["ver"] = "1.0",
        };
        var v1Validator = new OidcTokenValidator(v1Cache, Validator().Parameters, _time);
        var v1Result = await v1Validator.ValidateAsync(Rsa.Sign(v1, new JsonObject { ["x5t"] = "thumb" }), CancellationToken.None);
        Assert.Equal(OidcFailure.None, v1Result.Failure);

        var v2 = new JsonObject
        {
            ["aud"] = "11111111-2222-3333-4444-555555555555",
            ["iss"] = FakeIdentityProvider.Issuer,
            ["iat"] = Now, ["nbf"] = Now - 300, ["exp"] = Now + 3600,
            ["azp"] = "99999999-2222-3333-4444-555555555555",
            ["oid"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            ["scp"] = "orders.read orders.write",
            ["sub"] = "pairwise-subject",
            ["tid"] = Tenant,
            ["ver"] = "2.0",
        };
        var v2Result = await Validate(Rsa.Sign(v2));
        Assert.Equal(OidcFailure.None, v2Result.Failure);
        Assert.Equal("orders.read orders.write", v2Result.Claims!["scp"]);

        // A v1 token presented to the v2 issuer's validator (same keys, other iss) is refused.
        await AssertInvalid(Rsa.Sign(v1), "issuer is not accepted");
        v1Idp.Dispose();
    }
}
