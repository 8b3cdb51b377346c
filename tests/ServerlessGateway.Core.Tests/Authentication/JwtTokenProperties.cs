using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Authentication;
using ServerlessGateway.Authentication.Jwks;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>
/// Property tests of JWT parsing (<see cref="JwtToken.TryParse"/>), the jwt plugin's verification, the OpenID
/// Connect validator and JWK set parsing: hostile tokens and key sets end as an error, never an exception;
/// base64url is strict; a token changed in any one character never verifies. CsCheck prints the seed of a
/// failing sample; replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed class JwtTokenProperties
{
    private const int Iterations = 1000;
    private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    private const string Secret = "property-test-secret";

    private static readonly JwtHarness Harness = new("{}", JwtHarness.Consumer("alice", "alice-iss", secret: Secret));

    /// <summary>Segments of the base64url alphabet and a few characters that do not belong in one.</summary>
    private static readonly Gen<string> Segment = Gen.Frequency(
        (4, PropertyGens.StringOf(Base64UrlAlphabet, 0, 24)),
        (1, PropertyGens.StringOf(Base64UrlAlphabet + "=+/ \u00e9\0", 0, 12)));

    /// <summary>JSON texts a header or payload may hold: objects, other values, escapes of lone surrogates, duplicates, deep nesting.</summary>
    private static readonly Gen<string> JsonText = Gen.Frequency(
        (4, PropertyGens.Json(Gen.OneOf("alg", "kid", "iss", "exp", "sub", "crit", "\u00e9"), depth: 2).Select(j => j?.ToJsonString() ?? "null")),
        (3, Gen.Select(
            Gen.OneOf("\"HS256\"", "\"ES256\"", "\"HS\\u0032\\u0035\\u0036\"", "\"none\"", "\"hs256\"", "\"\\ud800\"", "\"HS256\\u0000\"", "1", "null", "[\"HS256\"]", "{}"),
            Gen.OneOf("", ",\"alg\":\"HS256\"", ",\"kid\":\"\\udc00\"", ",\"\\ud800\":1", ",\"iss\":\"alice-iss\"", ",\"exp\":1e400", ",\"x\":" + new string('[', 40) + new string(']', 40)),
            (alg, extra) => "{\"alg\":" + alg + extra + "}")),
        (1, Gen.OneOf("", "{", "{\"a\":1,\"a\":2}", "{\"sub\":\"\\ud800\"}", "[]", "\"x\"", "{\"alg\":\"HS256\"} trailing")));

    /// <summary>A JSON text as bytes: its UTF-8, or that with one byte replaced (possibly invalid UTF-8).</summary>
    private static readonly Gen<byte[]> JsonBytes = Gen.Select(JsonText, Gen.Int[0, 1 << 20], Gen.Byte, Gen.Bool, (text, at, value, corrupt) =>
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (corrupt && bytes.Length > 0)
        {
            bytes[at % bytes.Length] = value;
        }

        return bytes;
    });

    /// <summary>Arbitrary text, dot-separated segments, and well-formed base64url over hostile JSON (the interesting ones).</summary>
    private static readonly Gen<string> HostileTokens = Gen.Frequency(
        (1, PropertyGens.AnyChars),
        (1, Segment.Array[0, 5].Select(parts => string.Join('.', parts))),
        (4, Gen.Select(JsonBytes, JsonBytes, Gen.Byte.Array[0, 70], (header, payload, signature) =>
            Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(signature))));

    [Fact]
    public void Arbitrary_strings_parse_to_a_token_or_an_error_never_an_exception()
    {
        HostileTokens.Sample(
            token =>
            {
                var error = JwtToken.TryParse(token, out var jwt);

                using (jwt)
                {
                    Assert.Equal(error == JwtParseError.None, jwt is not null);
                    if (jwt is not null)
                    {
                        Assert.Equal(2, token.Count(c => c == '.'));
                        Assert.True(JwtAlgorithm.All.ContainsKey(jwt.Header.GetProperty("alg").GetString()!));
                        Assert.NotNull(jwt.ToClaims());
                    }
                }
            },
            iter: Iterations * 3,
            threads: 1,
            print: token => token);
    }

    /// <summary>A segment is accepted exactly when it is the one unpadded base64url encoding of its bytes.</summary>
    [Fact]
    public void A_segment_is_accepted_only_in_its_canonical_base64url_form()
    {
        var header = Base64Url.EncodeToString("{\"alg\":\"HS256\"}"u8);
        var payload = Base64Url.EncodeToString("{}"u8);
        Gen.OneOf(Segment, Gen.Byte.Array[0, 40].Select(b => Base64Url.EncodeToString(b))).Sample(
            signature =>
            {
                var error = JwtToken.TryParse(header + "." + payload + "." + signature, out var jwt);

                using (jwt)
                {
                    var canonical = LenientDecode(signature) is { } bytes && Base64Url.EncodeToString(bytes) == signature;
                    Assert.Equal(canonical ? JwtParseError.None : JwtParseError.Base64, error);
                    if (jwt is not null)
                    {
                        Assert.Equal(LenientDecode(signature), jwt.Signature);
                    }
                }
            },
            iter: Iterations,
            threads: 1,
            print: signature => signature);
    }

    [Fact]
    public async Task Hostile_tokens_are_refused_by_the_oidc_validator_never_thrown()
    {
        using var oidc = new OidcFixture();
        await HostileTokens.SampleAsync(
            async token => Assert.NotEqual(OidcFailure.None, (await oidc.Validator.ValidateAsync(token, CancellationToken.None)).Failure),
            iter: Iterations,
            threads: 1,
            print: token => token);
    }

    /// <summary>An issuer's JWK set mutated (members deleted, retyped, replaced, a lone surrogate escaped): a set or an error, never an exception.</summary>
    [Fact]
    public void Mutated_jwk_sets_parse_to_keys_or_an_error_never_an_exception()
    {
        var jwks = JsonNode.Parse(TestSigningKey.Jwks(OidcFixture.Key, TestSigningKey.Rsa("rsa", bits: 1024)))!;
        var values = PropertyGens.Json(Gen.OneOf("kty", "kid", "use", "alg", "n", "e", "x", "y", "crv", "key_ops"), depth: 1);
        Gen.Select(JsonMutation.Gen(values, 4), Gen.Bool)
            .Select((mutations, surrogate) =>
            {
                var json = JsonMutation.Apply(jwks, mutations).ToJsonString();
                return surrogate ? PropertyGens.WithLoneSurrogate(json) : json;
            })
            .Sample(
                json =>
                {
                    var document = JwksDocument.Parse(Encoding.UTF8.GetBytes(json), out var error);

                    Assert.Equal(document is null, error.Length > 0);
                },
                iter: Iterations,
                threads: 1,
                print: json => json);
    }

    [Fact]
    public async Task A_signed_token_changed_in_any_one_character_never_verifies_with_the_jwt_plugin()
    {
        await Tampered(SignForAlice).SampleAsync(
            async c =>
            {
                Assert.True((await Harness.BearerAsync(c.Token)).Passed, "the untouched token must verify");
                Assert.False((await Harness.BearerAsync(c.Tampered)).Passed);
            },
            iter: Iterations / 2,
            threads: 1,
            print: c => c.Tampered);
    }

    [Fact]
    public async Task A_signed_token_changed_in_any_one_character_never_validates_with_openid_connect()
    {
        using var oidc = new OidcFixture();
        await Tampered(oidc.Sign).SampleAsync(
            async c =>
            {
                Assert.Equal(OidcFailure.None, (await oidc.Validator.ValidateAsync(c.Token, CancellationToken.None)).Failure);
                Assert.NotEqual(OidcFailure.None, (await oidc.Validator.ValidateAsync(c.Tampered, CancellationToken.None)).Failure);
            },
            iter: Iterations / 2,
            threads: 1,
            print: c => c.Tampered);
    }

    private static string SignForAlice(JsonObject claims)
    {
        claims["iss"] = "alice-iss";
        return Jws.Hmac(claims, Secret);
    }

    /// <summary>A token signed over random extra claims, and a copy with one character replaced by another.</summary>
    private static Gen<(string Token, string Tampered)> Tampered(Func<JsonObject, string> sign) =>
        Gen.Select(PropertyGens.Json(Gen.OneOf("sub", "scope", "n"), depth: 1).Array[0, 3], Gen.Int[0, 1 << 20], Gen.Char, (values, at, replacement) =>
        {
            var payload = new JsonObject();
            for (var i = 0; i < values.Length; i++)
            {
                payload["c" + i] = values[i];
            }

            var token = sign(payload);
            var position = at % token.Length;
            var other = Base64UrlAlphabet.Contains(replacement) || replacement == '.' ? replacement : Base64UrlAlphabet[at % Base64UrlAlphabet.Length];
            return (token, token[..position] + other + token[(position + 1)..]);
        }).Where(c => c.Item1 != c.Item2);

    /// <summary>An OpenID Connect validator whose issuer (in memory) publishes one ES256 key.</summary>
    private sealed class OidcFixture : IDisposable
    {
        public static readonly TestSigningKey Key = TestSigningKey.Ec("prop");
        private readonly FakeTimeProvider _time = new(JwtHarness.Start);
        private readonly FakeIdentityProvider _idp = new() { Jwks = TestSigningKey.Jwks(Key) };
        private readonly OidcKeyCache _cache;

        public OidcFixture()
        {
            _cache = new OidcKeyCache(_idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
            Validator = new OidcTokenValidator(
                _cache,
                new OidcValidationParameters(OidcKeySource.ForJwksUri(FakeIdentityProvider.JwksUrl, out _)!, null, TimeSpan.Zero, OidcKeyCache.DefaultMinRefreshInterval),
                _time);
        }

        public OidcTokenValidator Validator { get; }

        /// <summary>Signs <paramref name="claims"/> with the issuer's key, adding a valid iss and exp.</summary>
        public string Sign(JsonObject claims)
        {
            claims["iss"] = FakeIdentityProvider.Issuer;
            claims["exp"] = _time.GetUtcNow().ToUnixTimeSeconds() + 3600;
            return Key.Sign(claims);
        }

        public void Dispose()
        {
            _cache.Dispose();
            _idp.Dispose();
        }
    }

    /// <summary>base64url decoding that ignores non-zero trailing bits (as many decoders do); null when not base64 at all.</summary>
    private static byte[]? LenientDecode(string segment)
    {
        if (segment.Any(c => !Base64UrlAlphabet.Contains(c)) || segment.Length % 4 == 1)
        {
            return null;
        }

        var padded = segment.Replace('-', '+').Replace('_', '/').PadRight(segment.Length + ((4 - (segment.Length % 4)) % 4), '=');
        return Convert.FromBase64String(padded);
    }
}
