using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ServerlessGateway.Authentication;
using ServerlessGateway.Plugins;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>Kong's jwt plugin through AccessAsync: tokens found, checked in Kong's order, and every bad input a 401.</summary>
public sealed class JwtPluginTests
{
    private const string Secret = "alice-hmac-secret-value";
    private static readonly long Now = JwtHarness.Start.ToUnixTimeSeconds();

    private static JwtHarness Hs256(string config = "{}", CredentialProtector? protector = null) =>
        new(config, JwtHarness.Consumer("alice", "alice-iss", secret: Secret) + "- username: guest\n", protector);

    private static JsonObject Claims(string iss = "alice-iss", long? exp = null, long? nbf = null)
    {
        var claims = new JsonObject { ["iss"] = iss, ["sub"] = "user-7", ["scope"] = new JsonArray("a", "b") };
        if (exp is not null)
        {
            claims["exp"] = exp;
        }

        if (nbf is not null)
        {
            claims["nbf"] = nbf;
        }

        return claims;
    }

    [Fact(Timeout = 10_000)]
    public async Task A_valid_token_authenticates_its_consumer_with_the_credential_key_and_claims()
    {
        var harness = Hs256();

        var outcome = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 60), Secret));

        Assert.True(outcome.Passed);
        Assert.Equal("alice", outcome.Feature.Consumer!.Username);
        Assert.Equal("alice-iss", outcome.Feature.CredentialIdentifier);
        Assert.False(outcome.Feature.Anonymous);
        var claims = outcome.Feature.Claims!;
        Assert.Equal("user-7", claims["sub"]);
        Assert.Equal(Now + 60, claims["exp"]);
        Assert.Equal("[\"a\",\"b\"]", ((System.Text.Json.JsonElement)claims["scope"]!).GetRawText());
    }

    public static TheoryData<string> Algorithms => new(JwtAlgorithm.All.Keys.Order(StringComparer.Ordinal));

    [Theory(Timeout = 10_000)]
    [MemberData(nameof(Algorithms))]
    public async Task Every_algorithm_verifies_its_own_signatures_and_rejects_another_keys(string alg)
    {
        var (consumer, sign, signWithOtherKey) = alg[..2] switch
        {
            "HS" => (JwtHarness.Consumer("alice", "k", alg, secret: Secret),
                (Func<JsonObject, string>)(c => Jws.Hmac(c, Secret, alg)),
                (Func<JsonObject, string>)(c => Jws.Hmac(c, Secret + "x", alg))),
            "RS" or "PS" => (JwtHarness.Consumer("alice", "k", alg, publicKey: TestKeys.RsaPem),
                c => Jws.Rsa(c, TestKeys.Rsa, alg),
                c => Jws.Rsa(c, TestKeys.OtherRsa, alg)),
            _ => (JwtHarness.Consumer("alice", "k", alg, publicKey: TestKeys.Ec(alg).ExportSubjectPublicKeyInfoPem()),
                c => Jws.Ecdsa(c, TestKeys.Ec(alg), alg),
                c => Jws.Ecdsa(c, ECDsa.Create(TestKeys.Ec(alg).ExportParameters(false).Curve), alg)),
        };
        var harness = new JwtHarness("{}", consumer);

        var good = await harness.BearerAsync(sign(Claims("k")));
        var bad = await harness.BearerAsync(signWithOtherKey(Claims("k")));

        Assert.True(good.Passed, good.Result.Detail);
        Assert.Equal("k", good.Feature.CredentialIdentifier);
        bad.AssertRejected("Invalid signature");
    }

    [Fact(Timeout = 10_000)]
    public async Task Rsa_pkcs1_and_pss_signatures_are_not_interchangeable()
    {
        var rs = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "RS256", publicKey: TestKeys.RsaPem));
        var ps = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "PS256", publicKey: TestKeys.RsaPem));
        var pssSignedRs = Jws.Sign(Claims("k"), "RS256", d => TestKeys.Rsa.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
        var pkcsSignedPs = Jws.Sign(Claims("k"), "PS256", d => TestKeys.Rsa.SignData(d, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        (await rs.BearerAsync(pssSignedRs)).AssertRejected("Invalid signature");
        (await ps.BearerAsync(pkcsSignedPs)).AssertRejected("Invalid signature");
    }

    [Fact(Timeout = 10_000)]
    public async Task An_ecdsa_signature_in_DER_form_is_refused_as_JWS_uses_raw_r_and_s()
    {
        var harness = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "ES256", publicKey: TestKeys.P256.ExportSubjectPublicKeyInfoPem()));
        var der = Jws.Sign(Claims("k"), "ES256", d => TestKeys.P256.SignData(d, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

        (await harness.BearerAsync(der)).AssertRejected("Invalid signature");
    }

    [Fact(Timeout = 10_000)]
    public async Task Algorithm_confusion_an_HS256_token_keyed_with_the_RSA_public_key_is_refused()
    {
        var pem = TestKeys.RsaPem;
        var harness = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "RS256", publicKey: pem));

        var confused = await harness.BearerAsync(Jws.Hmac(Claims("k"), pem, "HS256"));
        var confusedDer = await harness.BearerAsync(Jws.Hmac(Claims("k"), TestKeys.Rsa.ExportSubjectPublicKeyInfo(), "HS256"));

        confused.AssertRejected("Invalid algorithm");
        confusedDer.AssertRejected("Invalid algorithm");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_token_whose_alg_differs_from_the_credentials_is_refused_even_when_otherwise_valid()
    {
        var harness = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "HS512", secret: Secret));

        (await harness.BearerAsync(Jws.Hmac(Claims("k"), Secret, "HS256"))).AssertRejected("Invalid algorithm");
        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims("k"), Secret, "HS512"))).Passed);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    [InlineData("hs256")]
    [InlineData("EdDSA")]
    public async Task Alg_none_in_any_case_and_unknown_algs_are_bad_tokens(string alg)
    {
        var harness = Hs256();
        var header = new JsonObject { ["alg"] = alg, ["typ"] = "JWT" };
        var unsigned = Jws.B64(header.ToJsonString()) + "." + Jws.B64(Claims().ToJsonString()) + ".";
        var hmacSigned = Jws.Sign(Claims(), alg, d => HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), d), header);

        (await harness.BearerAsync(unsigned)).AssertRejected("Bad token; invalid alg");
        (await harness.BearerAsync(hmacSigned)).AssertRejected("Bad token; invalid alg");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_request_without_a_token_gets_a_bare_Bearer_challenge()
    {
        var harness = Hs256();

        var none = await harness.SendAsync(_ => { });
        var basic = await harness.SendAsync(r => r.Headers.Authorization = "Basic YWxpY2U6c2VjcmV0");
        var emptyBearer = await harness.SendAsync(r => r.Headers.Authorization = "Bearer   ");
        var emptyQuery = await harness.SendAsync(r => r.QueryString = new("?jwt="));

        foreach (var outcome in new[] { none, basic, emptyBearer, emptyQuery })
        {
            outcome.AssertRejected("Unauthorized", "Bearer");
        }
    }

    public static TheoryData<string, string> Malformed()
    {
        var valid = Jws.Hmac(Claims(), Secret);
        var parts = valid.Split('.');
        return new()
        {
            { "header-only", "Bad token; expected three base64url segments" },
            { parts[0] + "." + parts[1], "Bad token; expected three base64url segments" },
            { valid + ".extra", "Bad token; expected three base64url segments" },
            { parts[0] + "+." + parts[1] + "." + parts[2], "Bad token; invalid base64url" },
            { parts[0] + "." + parts[1] + "=." + parts[2], "Bad token; invalid base64url" },
            { parts[0] + "." + parts[1] + "." + parts[2] + "%", "Bad token; invalid base64url" },
            { "a." + parts[1] + "." + parts[2], "Bad token; invalid base64url" },
            { Jws.B64("{\"alg\":\"HS256\"") + "." + parts[1] + "." + parts[2], "Bad token; invalid JSON" },
            { parts[0] + "." + Jws.B64("not json") + "." + parts[2], "Bad token; invalid JSON" },
            { "." + parts[1] + "." + parts[2], "Bad token; invalid JSON" },
            { Jws.B64("{\"alg\":\"HS256\",\"alg\":\"none\"}") + "." + parts[1] + "." + parts[2], "Bad token; invalid JSON" },
            // Strings that are not text (found by JwtTokenProperties): these threw InvalidOperationException when read.
            { Jws.B64("{\"alg\":\"HS256\",\"kid\":\"\\ud800\"}") + "." + parts[1] + "." + parts[2], "Bad token; invalid JSON" },
            { parts[0] + "." + Jws.B64([.. "{\"iss\":\"alice-iss\",\"sub\":\""u8, 0xFF, .. "\"}"u8]) + "." + parts[2], "Bad token; invalid JSON" },
            { Jws.B64("[\"HS256\"]") + "." + parts[1] + "." + parts[2], "Bad token; the header is not a JSON object" },
            { parts[0] + "." + Jws.B64("[1,2]") + "." + parts[2], "Bad token; invalid claims" },
            { parts[0] + "." + Jws.B64("\"alice-iss\"") + "." + parts[2], "Bad token; invalid claims" },
            { parts[0] + "." + Jws.B64("42") + "." + parts[2], "Bad token; invalid claims" },
            { Jws.B64("{\"typ\":\"JWT\"}") + "." + parts[1] + "." + parts[2], "Bad token; invalid alg" },
            { Jws.B64("{\"alg\":256}") + "." + parts[1] + "." + parts[2], "Bad token; invalid alg" },
        };
    }

    [Theory(Timeout = 10_000)]
    [MemberData(nameof(Malformed))]
    public async Task Malformed_tokens_are_bad_tokens(string token, string detail)
    {
        var harness = Hs256();

        (await harness.BearerAsync(token)).AssertRejected(detail);
    }

    [Fact(Timeout = 10_000)]
    public async Task Tampered_tokens_fail_the_signature_check()
    {
        var harness = Hs256();
        var valid = Jws.Hmac(Claims(), Secret);
        var other = Jws.Hmac(Claims().Also(c => c["sub"] = "admin"), Secret + "-not-the-secret");
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(valid.Split('.')[2]);
        var flippedFirst = signature.ToArray();
        flippedFirst[0] ^= 1;
        var flippedLast = signature.ToArray();
        flippedLast[^1] ^= 0x80;

        var outcomes = new[]
        {
            await harness.BearerAsync(Jws.WithSegment(valid, 2, "")),                              // stripped signature
            await harness.BearerAsync(Jws.WithSegment(valid, 1, other.Split('.')[1])),             // payload swapped after signing
            await harness.BearerAsync(Jws.WithSegment(valid, 2, other.Split('.')[2])),             // wrong signature
            await harness.BearerAsync(Jws.WithSegment(valid, 2, Jws.B64(flippedFirst))),           // differs in the first byte
            await harness.BearerAsync(Jws.WithSegment(valid, 2, Jws.B64(flippedLast))),            // differs in the last byte
            await harness.BearerAsync(Jws.WithSegment(valid, 2, Jws.B64(signature[..^1]))),       // truncated
            await harness.BearerAsync(Jws.WithSegment(valid, 2, Jws.B64([.. signature, 0]))),     // extended
        };

        Assert.True((await harness.BearerAsync(valid)).Passed);
        foreach (var outcome in outcomes)
        {
            outcome.AssertRejected("Invalid signature");
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task Key_claim_problems_are_named_after_the_claim()
    {
        var harness = Hs256();

        var unknown = await harness.BearerAsync(Jws.Hmac(Claims("mallory-iss"), Secret));
        var missing = await harness.BearerAsync(Jws.Hmac(new JsonObject { ["sub"] = "x" }, Secret));
        var empty = await harness.BearerAsync(Jws.Hmac(Claims(""), Secret));
        var notString = await harness.BearerAsync(Jws.Hmac(new JsonObject { ["iss"] = 42 }, Secret));

        unknown.AssertRejected("No credentials found for given 'iss'");
        missing.AssertRejected("No mandatory 'iss' in claims");
        empty.AssertRejected("Invalid 'iss' in claims");
        notString.AssertRejected("Invalid 'iss' in claims");
    }

    [Fact(Timeout = 10_000)]
    public async Task Key_claim_name_is_read_from_the_payload_first_then_the_header()
    {
        var harness = new JwtHarness("{key_claim_name: kid}",
            JwtHarness.Consumer("alice", "alice-kid", secret: Secret) + JwtHarness.Consumer("bob", "bob-kid", secret: "bob-secret"));
        var inHeader = Jws.Hmac(new JsonObject { ["sub"] = "x" }, Secret, header: new JsonObject { ["alg"] = "HS256", ["kid"] = "alice-kid" });
        var inBoth = Jws.Hmac(new JsonObject { ["kid"] = "bob-kid" }, "bob-secret", header: new JsonObject { ["alg"] = "HS256", ["kid"] = "alice-kid" });
        var unknownKid = Jws.Hmac(new JsonObject(), Secret, header: new JsonObject { ["alg"] = "HS256", ["kid"] = "nobody" });

        Assert.Equal("alice", (await harness.BearerAsync(inHeader)).Feature.Consumer?.Username);
        Assert.Equal("bob", (await harness.BearerAsync(inBoth)).Feature.Consumer?.Username);
        (await harness.BearerAsync(unknownKid)).AssertRejected("No credentials found for given 'kid'");
    }

    [Fact(Timeout = 10_000)]
    public async Task Claims_to_verify_checks_exp_and_nbf_as_Kong_does()
    {
        var harness = Hs256("{claims_to_verify: [exp, nbf]}");

        var valid = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 60, nbf: Now), Secret));
        var expired = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now, nbf: Now - 60), Secret));
        var early = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 60, nbf: Now + 1), Secret));
        var noExp = await harness.BearerAsync(Jws.Hmac(Claims(nbf: Now), Secret));
        var stringExp = await harness.BearerAsync(Jws.Hmac(Claims(nbf: Now).Also(c => c["exp"] = (Now + 60).ToString(System.Globalization.CultureInfo.InvariantCulture)), Secret));
        var both = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now - 1, nbf: Now + 1), Secret));

        Assert.True(valid.Passed, valid.Result.Detail);
        expired.AssertRejected("exp: token expired");
        early.AssertRejected("nbf: token not valid yet");
        noExp.AssertRejected("exp: must be a number");
        stringExp.AssertRejected("exp: must be a number");
        both.AssertRejected("exp: token expired; nbf: token not valid yet");
    }

    [Fact(Timeout = 10_000)]
    public async Task Without_claims_to_verify_an_expired_token_passes_as_in_Kong()
    {
        var harness = Hs256();

        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims(exp: Now - 3600, nbf: Now + 3600), Secret))).Passed);
    }

    [Fact(Timeout = 10_000)]
    public async Task Maximum_expiration_refuses_tokens_living_longer_than_allowed()
    {
        var harness = Hs256("{claims_to_verify: [exp], maximum_expiration: 3600}");

        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 3600), Secret))).Passed);
        (await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 3601), Secret))).AssertRejected("exp: exceeds maximum allowed expiration");
        (await harness.BearerAsync(Jws.Hmac(Claims(), Secret))).AssertRejected("exp: must be a number");
    }

    [Fact(Timeout = 10_000)]
    public async Task Two_different_tokens_are_refused_and_the_same_token_twice_is_one()
    {
        var harness = Hs256("{cookie_names: [jwt_cookie]}");
        var a = Jws.Hmac(Claims(), Secret);
        var b = Jws.Hmac(Claims().Also(c => c["sub"] = "other"), Secret);

        var headerAndQuery = await harness.SendAsync(r => { r.Headers.Authorization = "Bearer " + a; r.QueryString = new("?jwt=" + b); });
        var headerAndCookie = await harness.SendAsync(r => { r.Headers.Authorization = "Bearer " + a; r.Headers.Cookie = "jwt_cookie=" + b; });
        var twoQueryValues = await harness.SendAsync(r => r.QueryString = new($"?jwt={a}&jwt={b}"));
        var twoHeaders = await harness.SendAsync(r => r.Headers.Authorization = new(["Bearer " + a, "Bearer " + b]));
        var sameTwice = await harness.SendAsync(r => { r.Headers.Authorization = "Bearer " + a; r.QueryString = new("?jwt=" + a); r.Headers.Cookie = "jwt_cookie=" + a; });

        foreach (var outcome in new[] { headerAndQuery, headerAndCookie, twoQueryValues, twoHeaders })
        {
            outcome.AssertRejected("Multiple tokens provided", "Bearer error=\"invalid_request\"");
        }

        Assert.True(sameTwice.Passed, sameTwice.Result.Detail);
    }

    [Fact(Timeout = 10_000)]
    public async Task Tokens_are_found_where_configured_and_nowhere_else()
    {
        var token = Jws.Hmac(Claims(), Secret);
        var defaults = Hs256();
        var custom = Hs256("{uri_param_names: [access_token], cookie_names: [session], header_names: [x-token]}");

        Assert.True((await defaults.SendAsync(r => r.QueryString = new("?jwt=" + token))).Passed);
        Assert.True((await defaults.SendAsync(r => r.Headers.Authorization = "bearer " + token)).Passed);
        Assert.True((await defaults.SendAsync(r => r.Headers.Authorization = "  BEARER\t" + token + " ")).Passed);
        (await defaults.SendAsync(r => r.Headers.Cookie = "jwt=" + token)).AssertRejected("Unauthorized", "Bearer");
        (await defaults.SendAsync(r => r.Headers.Authorization = "Bearer" + token)).AssertRejected("Unauthorized", "Bearer");

        Assert.True((await custom.SendAsync(r => r.QueryString = new("?access_token=" + token))).Passed);
        Assert.True((await custom.SendAsync(r => r.Headers.Cookie = "other=1; session=" + token)).Passed);
        Assert.True((await custom.SendAsync(r => r.Headers["X-Token"] = "Bearer " + token)).Passed);
        (await custom.SendAsync(r => r.Headers.Authorization = "Bearer " + token)).AssertRejected("Unauthorized", "Bearer");
        (await custom.SendAsync(r => r.QueryString = new("?jwt=" + token))).AssertRejected("Unauthorized", "Bearer");
    }

    [Fact(Timeout = 10_000)]
    public async Task An_oversize_token_is_refused_before_parsing()
    {
        var harness = Hs256();
        var huge = Jws.Hmac(Claims().Also(c => c["pad"] = new string('x', JwtToken.MaxLength)), Secret);
        var justBelow = new string('a', JwtToken.MaxLength);

        (await harness.BearerAsync(huge)).AssertRejected($"Bad token; longer than {JwtToken.MaxLength} characters");
        (await harness.BearerAsync(justBelow)).AssertRejected("Bad token; expected three base64url segments");
    }

    [Fact(Timeout = 10_000)]
    public async Task Hmac_secrets_of_any_length_are_accepted_as_Kong_does()
    {
        var harness = new JwtHarness("{}", JwtHarness.Consumer("alice", "k1", "HS256", secret: "s") + JwtHarness.Consumer("bob", "k2", "HS512", secret: "short"));

        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims("k1"), "s"))).Passed);
        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims("k2"), "short", "HS512"))).Passed);
        (await harness.BearerAsync(Jws.Hmac(Claims("k1"), "t"))).AssertRejected("Invalid signature");
    }

    [Fact(Timeout = 10_000)]
    public async Task Secret_is_base64_verifies_with_the_decoded_bytes()
    {
        var raw = RandomNumberGenerator.GetBytes(32);
        var harness = new JwtHarness("{secret_is_base64: true}",
            JwtHarness.Consumer("alice", "k", secret: Convert.ToBase64String(raw)) + JwtHarness.Consumer("bob", "bad", secret: "!!not base64!!"));

        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims("k"), raw))).Passed);
        (await harness.BearerAsync(Jws.Hmac(Claims("k"), Convert.ToBase64String(raw)))).AssertRejected("Invalid signature");
        (await harness.BearerAsync(Jws.Hmac(Claims("bad"), "!!not base64!!"))).AssertRejected("Invalid key/secret");
    }

    [Fact(Timeout = 10_000)]
    public async Task Secrets_encrypted_at_rest_are_decrypted_once_and_verify()
    {
        var protector = new CredentialProtector(RandomNumberGenerator.GetBytes(32));
        var harness = Hs256(protector: protector);

        Assert.StartsWith(CredentialProtector.EncryptedPrefix, harness.Config.Consumers[0].JwtSecrets[0].Secret, StringComparison.Ordinal);
        Assert.True((await harness.BearerAsync(Jws.Hmac(Claims(), Secret))).Passed);
        (await harness.BearerAsync(Jws.Hmac(Claims(), harness.Config.Consumers[0].JwtSecrets[0].Secret!))).AssertRejected("Invalid signature");
    }

    [Fact(Timeout = 10_000)]
    public async Task Anonymous_turns_failures_into_the_anonymous_consumer_and_skips_once_authenticated()
    {
        var harness = Hs256("{anonymous: guest}");
        var authenticated = new GatewayRequestFeature { Consumer = harness.Config.Consumers[0], CredentialIdentifier = "key-auth-id" };

        var none = await harness.SendAsync(_ => { });
        var bad = await harness.BearerAsync("not.a.token");
        var good = await harness.BearerAsync(Jws.Hmac(Claims(), Secret));
        var already = await harness.SendAsync(r => r.Headers.Authorization = "Bearer garbage", authenticated);

        foreach (var outcome in new[] { none, bad })
        {
            Assert.True(outcome.Passed);
            Assert.Equal("guest", outcome.Feature.Consumer!.Username);
            Assert.True(outcome.Feature.Anonymous);
            Assert.Null(outcome.Feature.CredentialIdentifier);
            Assert.Null(outcome.Feature.Claims);
        }

        Assert.Equal("alice", good.Feature.Consumer!.Username);
        Assert.False(good.Feature.Anonymous);
        Assert.True(already.Passed);
        Assert.Equal("key-auth-id", already.Feature.CredentialIdentifier);
    }

    [Fact(Timeout = 10_000)]
    public async Task Preflight_requests_skip_the_plugin_only_when_run_on_preflight_is_false()
    {
        static void Preflight(Microsoft.AspNetCore.Http.HttpRequest r)
        {
            r.Method = "OPTIONS";
            r.Headers.Origin = "https://app.example";
            r.Headers.AccessControlRequestMethod = "GET";
        }

        var skipping = await Hs256("{run_on_preflight: false}").SendAsync(Preflight);
        var checking = await Hs256().SendAsync(Preflight);

        Assert.True(skipping.Passed);
        Assert.Null(skipping.Feature.Consumer);
        checking.AssertRejected("Unauthorized", "Bearer");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_realm_is_carried_in_every_challenge()
    {
        var harness = Hs256("{realm: api}");

        (await harness.SendAsync(_ => { })).AssertRejected("Unauthorized", "Bearer realm=\"api\"");
        (await harness.BearerAsync("x.y.z")).AssertRejected("Bad token", "Bearer realm=\"api\", error=\"invalid_token\"");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_repeated_token_is_served_from_the_cache_without_looking_up_or_verifying_again()
    {
        var harness = Hs256("{claims_to_verify: [exp]}");
        var token = Jws.Hmac(Claims(exp: Now + 600), Secret);
        Assert.True((await harness.BearerAsync(token)).Passed);

        // A snapshot without the consumer: only a cache hit can still authenticate (which is why the
        // cache belongs to the plugin instance, and so dies with the snapshot that validated it).
        harness.Snapshot = GatewaySnapshot.Compile(harness.Config with { Consumers = [] }, "v2", harness.Runtime);
        var cached = await harness.BearerAsync(token);
        var fresh = await harness.BearerAsync(Jws.Hmac(Claims(exp: Now + 601), Secret));

        Assert.True(cached.Passed);
        Assert.Equal("alice-iss", cached.Feature.CredentialIdentifier);
        Assert.Equal("user-7", cached.Feature.Claims!["sub"]);
        fresh.AssertRejected("No credentials found");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_cached_token_is_never_served_past_its_verified_exp()
    {
        var harness = Hs256("{claims_to_verify: [exp]}");
        var token = Jws.Hmac(Claims(exp: Now + 60), Secret);
        Assert.True((await harness.BearerAsync(token)).Passed);

        harness.Time.Advance(TimeSpan.FromSeconds(59));
        Assert.True((await harness.BearerAsync(token)).Passed);
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        (await harness.BearerAsync(token)).AssertRejected("exp: token expired");
    }

    [Fact(Timeout = 10_000)]
    public async Task A_token_whose_exp_is_not_verified_is_cached_for_five_minutes_at_most()
    {
        var harness = Hs256();
        var token = Jws.Hmac(Claims(exp: Now + 3600), Secret);
        Assert.True((await harness.BearerAsync(token)).Passed);
        harness.Snapshot = GatewaySnapshot.Compile(harness.Config with { Consumers = [] }, "v2", harness.Runtime);

        harness.Time.Advance(JwtPlugin.UnverifiedExpiryCacheWindow - TimeSpan.FromSeconds(1));
        Assert.True((await harness.BearerAsync(token)).Passed);
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        (await harness.BearerAsync(token)).AssertRejected("No credentials found");
    }

    [Fact(Timeout = 10_000)]
    public async Task Rejected_tokens_are_not_cached()
    {
        var harness = Hs256("{claims_to_verify: [nbf]}");
        var early = Jws.Hmac(Claims(nbf: Now + 10), Secret);

        (await harness.BearerAsync(early)).AssertRejected("nbf: token not valid yet");
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.True((await harness.BearerAsync(early)).Passed);
    }

    [Fact(Timeout = 10_000)]
    public async Task Concurrent_first_requests_with_an_rsa_credential_all_verify()
    {
        var harness = new JwtHarness("{}", JwtHarness.Consumer("alice", "k", "RS256", publicKey: TestKeys.RsaPem));
        var tokens = Enumerable.Range(0, 64).Select(i => Jws.Rsa(Claims("k").Also(c => c["n"] = i), TestKeys.Rsa)).ToArray();

        var outcomes = await Task.WhenAll(tokens.Select(t => Task.Run(() => harness.BearerAsync(t))));

        Assert.All(outcomes, o => Assert.True(o.Passed, o.Result.Detail));
    }

    [Fact]
    public void The_jwt_plugin_is_registered_at_Kongs_priority_as_an_authentication_plugin()
    {
        var definition = PluginCatalog.Definitions["jwt"];

        Assert.True(definition.IsAuthentication);
        Assert.Equal(1450, definition.Priority);
        Assert.Null(PluginCatalog.RejectReason("jwt"));
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> change)
    {
        change(o);
        return o;
    }
}
