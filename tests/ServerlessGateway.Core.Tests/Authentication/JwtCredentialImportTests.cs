using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ServerlessGateway.Authentication;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>Import-time checks of jwt_secrets and of the jwt plugin's config: every error named with its path.</summary>
public sealed class JwtCredentialImportTests
{
    private static IReadOnlyList<ConfigIssue> Import(JsonObject credential, string pluginConfig = "{}")
    {
        var yaml = $$"""
            _format_version: "3.0"
            services:
            - name: s
              url: http://127.0.0.1:1
              routes: [{name: r, paths: [/]}]
              plugins:
              - name: jwt
                config: {{pluginConfig}}
            consumers:
            - username: alice
              jwt_secrets: [{{credential.ToJsonString()}}]
            """;
        return KongDeclarativeParser.Parse(yaml).Errors;
    }

    private static JsonObject Credential(string algorithm, string? secret = null, string? publicKey = null)
    {
        var credential = new JsonObject { ["key"] = "k", ["algorithm"] = algorithm };
        if (secret is not null)
        {
            credential["secret"] = secret;
        }

        if (publicKey is not null)
        {
            credential["rsa_public_key"] = publicKey;
        }

        return credential;
    }

    private static void AssertSingleError(IReadOnlyList<ConfigIssue> errors, string path, string messagePart)
    {
        var error = Assert.Single(errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> Algorithms => new(JwtAlgorithm.All.Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void Every_supported_algorithm_imports_with_its_key(string alg)
    {
        var credential = alg[..2] switch
        {
            "HS" => Credential(alg, secret: "x"),
            "ES" => Credential(alg, publicKey: TestKeys.Ec(alg).ExportSubjectPublicKeyInfoPem()),
            _ => Credential(alg, publicKey: TestKeys.RsaPem),
        };

        Assert.Empty(Import(credential));
    }

    [Fact]
    public void A_pkcs1_rsa_public_key_pem_imports()
    {
        Assert.Empty(Import(Credential("RS256", publicKey: TestKeys.Rsa.ExportRSAPublicKeyPem())));
    }

    [Fact]
    public void EdDSA_is_rejected_by_name()
    {
        AssertSingleError(Import(Credential("EdDSA", publicKey: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----")),
            "consumers[0].jwt_secrets[0].algorithm", "EdDSA is not supported by this gateway");
    }

    [Theory]
    [InlineData("none")]
    [InlineData("NONE")]
    [InlineData("hs256")]
    [InlineData("RS1")]
    [InlineData("")]
    public void Other_algorithms_are_rejected_with_the_supported_list(string alg)
    {
        AssertSingleError(Import(Credential(alg, secret: "x")), "consumers[0].jwt_secrets[0].algorithm", $"unsupported algorithm '{alg}': expected one of HS256,");
    }

    [Fact]
    public void An_hmac_credential_needs_a_secret()
    {
        AssertSingleError(Import(Credential("HS384")), "consumers[0].jwt_secrets[0].secret", "required for HS384");
        AssertSingleError(Import(new JsonObject { ["key"] = "k" }), "consumers[0].jwt_secrets[0].secret", "required for HS256");
    }

    [Fact]
    public void A_one_character_hmac_secret_imports_as_Kong_allows()
    {
        Assert.Empty(Import(Credential("HS512", secret: "s")));
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS384")]
    [InlineData("ES512")]
    public void Public_key_algorithms_need_rsa_public_key(string alg)
    {
        AssertSingleError(Import(Credential(alg, secret: "ignored")), "consumers[0].jwt_secrets[0].rsa_public_key", $"required for {alg}");
    }

    public static TheoryData<string, string, string> BadKeys()
    {
        var rsaPem = TestKeys.RsaPem;
        var p256 = TestKeys.P256.ExportSubjectPublicKeyInfoPem();
        using var secp256k1 = ECDsa.Create(ECCurve.CreateFromFriendlyName("secP256k1"));
        return new()
        {
            { "RS256", "not a key", "not a PEM public key" },
            { "RS256", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a valid RSA public key for RS256" },
            { "RS256", TestKeys.Rsa.ExportPkcs8PrivateKeyPem(), "a private key" },
            { "RS256", TestKeys.Rsa.ExportRSAPrivateKeyPem(), "a private key" },
            { "ES256", TestKeys.P256.ExportECPrivateKeyPem(), "a private key" },
            { "RS256", p256, "not a valid RSA public key for RS256" },
            { "PS256", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "found 'CERTIFICATE'" },
            { "ES256", rsaPem, "not a valid EC public key for ES256" },
            { "ES256", TestKeys.P384.ExportSubjectPublicKeyInfoPem(), "ES256 needs an EC key on curve P-256" },
            { "ES512", p256, "ES512 needs an EC key on curve P-521" },
            { "ES256", secp256k1.ExportSubjectPublicKeyInfoPem(), "ES256 needs an EC key on curve P-256" },
            { "ES256", TestKeys.Rsa.ExportRSAPublicKeyPem(), "expected an EC public key" },
        };
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public void Unusable_public_keys_are_rejected_with_the_reason(string alg, string pem, string messagePart)
    {
        AssertSingleError(Import(Credential(alg, publicKey: pem)), "consumers[0].jwt_secrets[0].rsa_public_key", messagePart);
    }

    [Fact]
    public void Errors_name_the_consumer_and_credential_index()
    {
        var yaml = """
            _format_version: "3.0"
            consumers:
            - username: alice
              jwt_secrets: [{key: a, secret: s}]
            - username: bob
              jwt_secrets: [{key: b1, secret: s}, {key: b2, algorithm: EdDSA}]
            """;

        AssertSingleError(KongDeclarativeParser.Parse(yaml).Errors, "consumers[1].jwt_secrets[1].algorithm", "EdDSA");
    }

    [Fact]
    public void Error_messages_never_echo_a_secret()
    {
        var errors = Import(new JsonObject { ["key"] = "k", ["algorithm"] = "HS999", ["secret"] = "top-secret-value" });

        Assert.DoesNotContain(errors, e => e.Message.Contains("top-secret-value", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{claims_to_verify: [exp, iat]}", "services[0].plugins[0].config.claims_to_verify[1]", "expected one of: exp, nbf")]
    [InlineData("{maximum_expiration: 60}", "services[0].plugins[0].config.claims_to_verify", "must contain 'exp' when maximum_expiration is set")]
    [InlineData("{maximum_expiration: 31536001, claims_to_verify: [exp]}", "services[0].plugins[0].config.maximum_expiration", "between 0 and 31536000")]
    [InlineData("{anonymous: nobody}", "services[0].plugins[0].config.anonymous", "no consumer 'nobody'")]
    [InlineData("{header_names: [\"bad header\"]}", "services[0].plugins[0].config.header_names[0]", "not a valid header name")]
    [InlineData("{uri_param_names: [\"\"]}", "services[0].plugins[0].config.uri_param_names[0]", "must not be empty")]
    [InlineData("{key_claim_name: \"\"}", "services[0].plugins[0].config.key_claim_name", "must not be empty")]
    [InlineData("{realm: 'a\"b'}", "services[0].plugins[0].config.realm", "must not contain quotes")]
    [InlineData("{secret_is_base64: maybe}", "services[0].plugins[0].config.secret_is_base64", "expected a boolean")]
    [InlineData("{verify_signature: false}", "services[0].plugins[0].config.verify_signature", "unknown field")]
    public void Plugin_config_errors_are_reported_by_path(string config, string path, string messagePart)
    {
        AssertSingleError(Import(Credential("HS256", secret: "x"), config), path, messagePart);
    }

    [Fact]
    public void Kongs_full_default_config_imports()
    {
        const string config = """
            {uri_param_names: [jwt], cookie_names: [], header_names: [authorization], key_claim_name: iss,
             secret_is_base64: false, claims_to_verify: null, anonymous: null, run_on_preflight: true,
             maximum_expiration: 0, realm: null}
            """;

        Assert.Empty(Import(Credential("HS256", secret: "x"), config.ReplaceLineEndings(" ")));
    }

    [Fact]
    public void A_jwt_plugin_cannot_be_scoped_to_a_consumer()
    {
        var yaml = """
            _format_version: "3.0"
            consumers:
            - username: alice
            plugins:
            - name: jwt
              consumer: alice
            """;

        AssertSingleError(KongDeclarativeParser.Parse(yaml).Errors, "plugins[0].consumer", "cannot be scoped");
    }
}
