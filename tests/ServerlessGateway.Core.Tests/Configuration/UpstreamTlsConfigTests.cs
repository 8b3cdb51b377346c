using System.Security.Cryptography;
using ServerlessGateway.Configuration;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Registry;
using static ServerlessGateway.Tests.Configuration.ParserTests;

namespace ServerlessGateway.Tests.Configuration;

/// <summary>Import of Kong's upstream TLS: <c>ca_certificates</c>, <c>certificates</c> and the service fields naming them.</summary>
public sealed class UpstreamTlsConfigTests
{
    private const string CaId = "11111111-1111-4111-8111-111111111111";
    private const string CertId = "22222222-2222-4222-8222-222222222222";
    private static readonly System.Security.Cryptography.X509Certificates.X509Certificate2 Ca = TestCertificates.CreateCa("config test CA");
    private static readonly System.Security.Cryptography.X509Certificates.X509Certificate2 Client = TestCertificates.CreateClient(Ca);

    private static string Yaml(string caCert, string clientCert, string clientKey, string serviceExtra) => $$"""
        _format_version: "3.0"
        ca_certificates:
        - id: {{CaId}}
          cert: {{Json(caCert)}}
        certificates:
        - id: {{CertId}}
          cert: {{Json(clientCert)}}
          key: {{Json(clientKey)}}
        services:
        - name: s
          url: https://backend.internal:8443
        {{serviceExtra}}
        """;

    private static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);

    private static string Valid(string serviceExtra = "  tls_verify: true") =>
        Yaml(TestCertificates.CertificatePem(Ca), TestCertificates.CertificatePem(Client), TestCertificates.PrivateKeyPem(Client), serviceExtra);

    [Fact]
    public void Service_tls_fields_and_the_entities_they_name_are_read()
    {
        var config = ParseValid(Valid($"""
              tls_verify: true
              tls_verify_depth: 3
              ca_certificates: [{CaId.ToUpperInvariant()}]
              client_certificate: {"{"}id: {CertId}{"}"}
            """));

        var service = config.Services[0];
        Assert.True(service.TlsVerify);
        Assert.Equal(3, service.TlsVerifyDepth);
        Assert.Equal([CaId], service.CaCertificates);
        Assert.Equal(CertId, service.ClientCertificate);
        Assert.Equal(CaId, Assert.Single(config.CaCertificates).Id);
        Assert.Equal(CertId, Assert.Single(config.Certificates).Id);
    }

    [Fact]
    public void Unknown_references_and_out_of_range_depth_are_reported_by_field()
    {
        var errors = Errors(Valid("""
              tls_verify_depth: 65
              ca_certificates: [33333333-3333-4333-8333-333333333333, not-a-uuid]
              client_certificate: 44444444-4444-4444-8444-444444444444
            """));

        AssertError(errors, "services[0].tls_verify_depth", "between 0 and 64");
        AssertError(errors, "services[0].ca_certificates[1]", "UUID");
        // References are checked once every field reads well; these come with a valid document.
        var references = Errors(Valid("""
              ca_certificates: [33333333-3333-4333-8333-333333333333]
              client_certificate: 44444444-4444-4444-8444-444444444444
            """));
        AssertError(references, "services[0].ca_certificates[0]", "no ca_certificate with id '33333333-3333-4333-8333-333333333333'");
        AssertError(references, "services[0].client_certificate", "no certificate with id '44444444-4444-4444-8444-444444444444'");
    }

    [Fact]
    public void Tls_fields_on_a_cleartext_service_are_rejected_as_Kong_does()
    {
        var errors = Errors(Valid("  tls_verify: false").Replace("https://backend.internal:8443", "http://backend.internal", StringComparison.Ordinal));

        AssertError(errors, "services[0].tls_verify", "must be null for protocol 'http'");
    }

    [Fact]
    public void Invalid_pem_a_non_ca_trust_anchor_and_a_key_without_cert_are_reported_by_field()
    {
        var key = TestCertificates.PrivateKeyPem(Client);
        var errors = Errors($$"""
            _format_version: "3.0"
            ca_certificates:
            - id: {{CaId}}
              cert: "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
            - id: 55555555-5555-4555-8555-555555555555
              cert: {{Json(TestCertificates.CertificatePem(Client))}}
            certificates:
            - id: {{CertId}}
              key: {{Json(key)}}
            """);

        AssertError(errors, "ca_certificates[0].cert", "expected a PEM certificate");
        AssertError(errors, "ca_certificates[1].cert", "not a CA");
        AssertError(errors, "certificates[0].cert", "required field missing");
        Assert.DoesNotContain(errors, e => e.Message.Contains("PRIVATE KEY", StringComparison.Ordinal));
    }

    [Fact]
    public void A_key_that_does_not_match_the_certificate_is_rejected_without_echoing_it()
    {
        var other = TestCertificates.CreateClient(Ca, "someone else");
        var otherKey = TestCertificates.PrivateKeyPem(other);

        var errors = Errors(Yaml(TestCertificates.CertificatePem(Ca), TestCertificates.CertificatePem(Client), otherKey, "  tls_verify: true"));

        AssertError(errors, "certificates[0].key", "not a valid PEM private key for the certificate");
        Assert.DoesNotContain(errors, e => e.Message.Contains(otherKey[40..80], StringComparison.Ordinal));
    }

    [Fact]
    public void Key_forms_other_than_pem_enc_or_vault_reference_are_rejected()
    {
        var errors = Errors(Yaml(TestCertificates.CertificatePem(Ca), TestCertificates.CertificatePem(Client), "{vault://azure/x}", "  tls_verify: true"));
        var plain = Errors(Yaml(TestCertificates.CertificatePem(Ca), TestCertificates.CertificatePem(Client), "hunter2", "  tls_verify: true"));

        AssertError(errors, "certificates[0].key", "{vault://env/NAME}");
        AssertError(plain, "certificates[0].key", "expected a PEM private key");
    }

    [Fact]
    public void Private_keys_are_encrypted_at_rest_exported_encrypted_and_import_again()
    {
        var protector = new CredentialProtector(RandomNumberGenerator.GetBytes(32));
        var keyPem = TestCertificates.PrivateKeyPem(Client);
        var errors = new List<ConfigIssue>();

        var stored = protector.Protect(ParseValid(Valid()), errors);
        var exported = KongDeclarativeExporter.ToYaml(stored);
        var again = protector.Protect(ParseValid(exported), errors);

        Assert.Empty(errors);
        Assert.StartsWith(CredentialProtector.EncryptedPrefix, stored.Certificates[0].Key, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", exported, StringComparison.Ordinal);
        Assert.Contains(TestCertificates.CertificatePem(Client).Split('\n')[1], exported, StringComparison.Ordinal);
        Assert.Equal(stored.Certificates[0].Key, again.Certificates[0].Key);
        Assert.True(protector.TryReveal(again.Certificates[0].Key, out var revealed));
        Assert.Equal(keyPem, revealed);
    }

    [Fact]
    public void Vault_references_stay_references_and_a_missing_secrets_key_refuses_plain_keys()
    {
        var noKey = new CredentialProtector(null);
        var errors = new List<ConfigIssue>();
        var withReference = ParseValid(Yaml(TestCertificates.CertificatePem(Ca), TestCertificates.CertificatePem(Client), "{vault://env/upstream-client-key}", "  tls_verify: true"));

        var stored = noKey.Protect(withReference, errors);
        Assert.Empty(errors);
        Assert.Equal("{vault://env/upstream-client-key}", stored.Certificates[0].Key);
        Assert.True(VaultReference.TryParse(stored.Certificates[0].Key, out var variable));
        Assert.Equal("UPSTREAM_CLIENT_KEY", variable);

        noKey.Protect(ParseValid(Valid()), errors);
        AssertError(errors, "certificates[0].key", "private keys cannot be stored: Gateway:Secrets:Key is not configured");
    }
}
