using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests.Protocols;

/// <summary>
/// Upstream TLS against real Kestrel HTTPS backends with certificates made in-test: verification on
/// by default, <c>ca_certificates</c> as the trust store, <c>tls_verify: false</c>,
/// <c>tls_verify_depth</c>, and <c>client_certificate</c> for backends that demand mTLS.
/// </summary>
public sealed class UpstreamTlsTests
{
    private const string CaId = "6f1d3a52-0000-4000-8000-000000000001";
    private const string OtherCaId = "6f1d3a52-0000-4000-8000-000000000002";
    private const string ClientId = "6f1d3a52-0000-4000-8000-000000000003";
    private static readonly X509Certificate2 Ca = TestCertificates.CreateCa("upstream test CA");
    private static readonly X509Certificate2 OtherCa = TestCertificates.CreateCa("some other CA");
    private static readonly X509Certificate2 ClientCert = TestCertificates.CreateClient(Ca);

    [Fact(Timeout = 30_000)]
    public async Task Untrusted_upstream_certificate_is_refused_with_502_by_default()
    {
        // Arrange
        await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(Ca));
        await using var gateway = await TestGateway.StartAsync(Config(backend.Port, ""));

        // Act
        using var response = await gateway.Client.GetAsync("/tls");

        // Assert
        await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
    }

    [Fact(Timeout = 30_000)]
    public async Task Ca_certificates_make_the_upstream_trusted_and_only_their_roots()
    {
        await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(Ca));
        await using var trusting = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{CaId}]"));
        await using var trustingOther = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{OtherCaId}]"));

        using var trusted = await trusting.Client.GetAsync("/tls");
        using var untrusted = await trustingOther.Client.GetAsync("/tls");

        Assert.Equal(HttpStatusCode.OK, trusted.StatusCode);
        Assert.Equal("https no-client-cert", await trusted.Content.ReadAsStringAsync());
        await Problem.AssertAsync(untrusted, HttpStatusCode.BadGateway);
    }

    [Fact(Timeout = 30_000)]
    public async Task Tls_verify_false_skips_verification()
    {
        await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(OtherCa));
        await using var gateway = await TestGateway.StartAsync(Config(backend.Port, "    tls_verify: false"));

        using var response = await gateway.Client.GetAsync("/tls");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Tls_verify_depth_limits_the_intermediates_as_nginx_does()
    {
        var intermediate = TestCertificates.CreateIntermediate(Ca);
        await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(intermediate), intermediate: intermediate);
        await using var depth0 = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{CaId}]\n    tls_verify_depth: 0"));
        await using var depth1 = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{CaId}]\n    tls_verify_depth: 1"));

        using var refused = await depth0.Client.GetAsync("/tls");
        using var accepted = await depth1.Client.GetAsync("/tls");

        await Problem.AssertAsync(refused, HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Mtls_backend_accepts_the_gateway_only_with_its_client_certificate()
    {
        await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(Ca), requireClientCertificateFrom: Ca);
        await using var without = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{CaId}]"));
        await using var with = await TestGateway.StartAsync(Config(backend.Port, $"    ca_certificates: [{CaId}]\n    client_certificate: {ClientId}"));

        using var refused = await without.Client.GetAsync("/tls");
        using var accepted = await with.Client.GetAsync("/tls");

        await Problem.AssertAsync(refused, HttpStatusCode.BadGateway);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("https CN=gateway-client", await accepted.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Client_key_from_a_vault_env_reference_is_used_and_a_missing_one_answers_502()
    {
        var variable = $"SG_TEST_CLIENT_KEY_{Guid.NewGuid():N}".ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, TestCertificates.PrivateKeyPem(ClientCert));
        try
        {
            await using var backend = await StartHttpsBackendAsync(TestCertificates.CreateServer(Ca), requireClientCertificateFrom: Ca);
            var withReference = Config(backend.Port, $"    ca_certificates: [{CaId}]\n    client_certificate: {ClientId}", $"{{vault://env/{variable.ToLowerInvariant().Replace('_', '-')}}}");
            await using var gateway = await TestGateway.StartAsync(withReference);
            await using var unresolved = await TestGateway.StartAsync(withReference.Replace(variable.ToLowerInvariant().Replace('_', '-'), "sg-test-unset-variable", StringComparison.Ordinal));

            using var accepted = await gateway.Client.GetAsync("/tls");
            using var failed = await unresolved.Client.GetAsync("/tls");

            Assert.Equal("https CN=gateway-client", await accepted.Content.ReadAsStringAsync());
            await Problem.AssertAsync(failed, HttpStatusCode.BadGateway);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Ssrf_guard_holds_for_services_with_their_own_tls_pool()
    {
        var reached = false;
        await using var backend = await LoopbackServer.StartAsync(null,
            app => app.Run(context => { reached = true; return Task.CompletedTask; }),
            HttpProtocols.Http1, TestCertificates.CreateServer(Ca));
        await using var gateway = await TestGateway.StartAsync(Config(backend.Port, "    tls_verify: false"),
            settings: new Dictionary<string, string?> { ["Gateway:Upstreams:AllowLoopback"] = "false" });

        using var response = await gateway.Client.GetAsync("/tls");

        var detail = await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
        Assert.Contains("upstream address policy", detail, StringComparison.Ordinal);
        Assert.False(reached);
    }

    [Fact(Timeout = 30_000)]
    public async Task Export_shows_the_client_key_encrypted_never_in_plain()
    {
        await using var gateway = await TestGateway.StartAsync(Config(443, $"    client_certificate: {ClientId}"), settings: ManagementApiTests.AdminSettings());
        using var request = ManagementApiTests.Admin(HttpMethod.Get, "/_gateway/config");

        using var response = await gateway.Client.SendAsync(request);
        var exported = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("enc:v1:", exported, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", exported, StringComparison.Ordinal);
        Assert.Contains(ClientId, exported, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Management_api_manages_certificates_keeps_keys_encrypted_and_guards_references()
    {
        await using var gateway = await TestGateway.StartAsync(null, settings: ManagementApiTests.AdminSettings());
        var caBody = new System.Text.Json.Nodes.JsonObject { ["id"] = CaId, ["cert"] = TestCertificates.CertificatePem(Ca) }.ToJsonString();
        var certBody = new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = ClientId,
            ["cert"] = TestCertificates.CertificatePem(ClientCert),
            ["key"] = TestCertificates.PrivateKeyPem(ClientCert),
        }.ToJsonString();
        var serviceBody = new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = "tls",
            ["url"] = "https://backend.internal",
            ["ca_certificates"] = new System.Text.Json.Nodes.JsonArray(CaId),
            ["client_certificate"] = new System.Text.Json.Nodes.JsonObject { ["id"] = ClientId },
        }.ToJsonString();

        using var createdCa = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Post, "/_gateway/ca_certificates", caBody));
        using var createdCert = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Post, "/_gateway/certificates", certBody));
        using var createdService = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Post, "/_gateway/services", serviceBody));
        using var readCert = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Get, $"/_gateway/certificates/{ClientId}"));
        using var deleteReferenced = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Delete, $"/_gateway/ca_certificates/{CaId}"));

        Assert.Equal(HttpStatusCode.Created, createdCa.StatusCode);
        Assert.Equal(HttpStatusCode.Created, createdCert.StatusCode);
        Assert.Equal(HttpStatusCode.Created, createdService.StatusCode);
        Assert.DoesNotContain("PRIVATE KEY", await createdCert.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var stored = await ManagementApiTests.JsonAsync(readCert);
        Assert.StartsWith("enc:v1:", stored["key"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, deleteReferenced.StatusCode);
        Assert.Contains("no ca_certificate with id", await deleteReferenced.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Import_of_a_certificate_change_is_a_new_version_and_select_tags_keeps_other_certificates()
    {
        var original = Config(443, $"    ca_certificates: [{CaId}]");
        await using var gateway = await TestGateway.StartAsync(original, settings: ManagementApiTests.AdminSettings());
        var rotated = original.Replace(Json(TestCertificates.CertificatePem(OtherCa)), Json(TestCertificates.CertificatePem(TestCertificates.CreateCa("rotated CA"))), StringComparison.Ordinal);
        const string tagged = """
            _format_version: "3.0"
            services:
              - name: team-b
                url: http://team-b.internal
                tags: [team-b]
            """;

        using var dryRun = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Post, "/_gateway/config?dry_run=true", rotated, "application/yaml"));
        using var tagImport = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Post, "/_gateway/config?select_tags=team-b", tagged, "application/yaml"));
        using var export = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Get, "/_gateway/config"));

        var changes = (await ManagementApiTests.JsonAsync(dryRun))["changes"]!.AsArray();
        var change = Assert.Single(changes)!;
        Assert.Equal("update", change["action"]!.GetValue<string>());
        Assert.Equal("ca_certificate", change["kind"]!.GetValue<string>());
        Assert.Equal(OtherCaId, change["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Created, tagImport.StatusCode);
        var exported = await export.Content.ReadAsStringAsync();
        Assert.Contains(CaId, exported, StringComparison.Ordinal);
        Assert.Contains(ClientId, exported, StringComparison.Ordinal);
        Assert.Contains("team-b", exported, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Connections_are_pooled_per_target()
    {
        // Two targets behind one upstream: sequential requests alternate, each target sees one connection.
        var connections = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
        Task Handler(HttpContext context)
        {
            connections.TryAdd($"{context.Connection.LocalPort}/{context.Connection.RemotePort}", 0);
            return context.Response.WriteAsync(context.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await using var a = await TestBackend.StartAsync(Handler);
        await using var b = await TestBackend.StartAsync(Handler);
        await using var gateway = await TestGateway.StartAsync($"""
            _format_version: "3.0"
            upstreams:
              - name: pool
                targets: [{"{"}target: "127.0.0.1:{a.Port}"{"}"}, {"{"}target: "127.0.0.1:{b.Port}"{"}"}]
            services:
              - name: pooled
                host: pool
                routes: [{"{"}name: pooled, paths: [/pooled]{"}"}]
            """);

        var seen = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            seen.Add(await gateway.Client.GetStringAsync("/pooled"));
        }

        Assert.Equal(5, seen.Count(p => p == a.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(5, seen.Count(p => p == b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(2, connections.Count);
    }

    private static Task<LoopbackServer> StartHttpsBackendAsync(X509Certificate2 certificate, X509Certificate2? requireClientCertificateFrom = null, X509Certificate2? intermediate = null) =>
        LoopbackServer.StartAsync(null,
            app => app.Run(context => context.Response.WriteAsync(
                $"{context.Request.Scheme} {context.Connection.ClientCertificate?.Subject ?? "no-client-cert"}")),
            HttpProtocols.Http1,
            certificate,
            requireClientCertificateFrom,
            intermediate);

    private static string Config(int port, string serviceTls, string? key = null) => $"""
        _format_version: "3.0"
        ca_certificates:
          - id: {CaId}
            cert: {Json(TestCertificates.CertificatePem(Ca))}
          - id: {OtherCaId}
            cert: {Json(TestCertificates.CertificatePem(OtherCa))}
        certificates:
          - id: {ClientId}
            cert: {Json(TestCertificates.CertificatePem(ClientCert))}
            key: {Json(key ?? TestCertificates.PrivateKeyPem(ClientCert))}
        services:
          - name: tls
            url: https://127.0.0.1:{port}
        {serviceTls}
            routes:
              - name: tls
                paths: [/tls]
        """;

    private static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);
}
