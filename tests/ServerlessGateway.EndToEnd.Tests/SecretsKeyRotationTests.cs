using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Rotating <c>Gateway:Secrets:Key</c>: the old key moves to <c>Gateway:Secrets:PreviousKeys</c>, still
/// decrypts, and a publish re-encrypts every HMAC secret under the new key; then the old key can go.
/// </summary>
public sealed class SecretsKeyRotationTests
{
    private const string AdminKey = "rotation-admin-key";
    private const string Secret = "a-shared-hmac-secret-of-alice-0123456789";
    private static readonly string OldKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string NewKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static string Config(string backendUrl, string secret) => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{{backendUrl}}"
          routes: [{name: r, paths: [/api]}]
          plugins: [{name: jwt}]
        consumers:
        - username: alice
          jwt_secrets:
          - key: alice-key
            algorithm: HS256
            secret: "{{secret}}"
        """;

    [Fact(Timeout = 60_000)]
    public async Task The_old_key_decrypts_while_listed_as_previous_and_a_publish_moves_every_secret_to_the_new_key()
    {
        await using var backend = await TestBackend.StartAsync();
        var underOldKey = await ExportAsync(Config(backend.Url, Secret), OldKey);
        var encryptedOld = EncryptedSecret(underOldKey);

        // Rotation step 1: new key, old key listed as previous. The old export still loads and serves.
        string underNewKey;
        await using (var rotating = await StartAsync(underOldKey, NewKey, OldKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await CallAsync(rotating)).StatusCode);
            underNewKey = await ExportAsync(rotating);
        }

        // The publish (here: loading the file) stored the secret again, under the new key.
        var encryptedNew = EncryptedSecret(underNewKey);
        Assert.NotEqual(encryptedOld, encryptedNew);
        Assert.DoesNotContain(Secret, underNewKey, StringComparison.Ordinal);

        // Rotation step 2: the old key is gone; the re-encrypted config serves, the old one is refused by field.
        await using (var rotated = await StartAsync(underNewKey, NewKey))
        {
            Assert.Equal(HttpStatusCode.OK, (await CallAsync(rotated)).StatusCode);
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(underOldKey, NewKey));
        Assert.Contains("consumers[0].jwt_secrets[0].secret", refused.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 90_000)]
    public async Task With_the_registry_in_table_storage_an_export_posted_back_moves_every_secret_to_the_new_key()
    {
        // The README's rotation steps against a shared registry: each gateway here is a restart of the fleet.
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        var storage = new Dictionary<string, string?>
        {
            ["GatewayStorage"] = azurite.ConnectionString,
            ["Gateway:TablePrefix"] = "R" + Guid.NewGuid().ToString("N")[..10],
        };

        string underOldKey;
        await using (var before = await StartAsync(null, OldKey, storage: storage))
        {
            using var import = Admin(HttpMethod.Post, "/_gateway/config", Config(backend.Url, Secret), "application/yaml");
            Assert.Equal(HttpStatusCode.Created, (await before.Client.SendAsync(import)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await CallAsync(before)).StatusCode);
            underOldKey = await ExportAsync(before);
        }

        // Step 1: new key, old key previous. The stored version still serves; the export posted back is a change.
        HttpStatusCode republished;
        await using (var rotating = await StartAsync(null, NewKey, OldKey, storage))
        {
            Assert.Equal(HttpStatusCode.OK, (await CallAsync(rotating)).StatusCode);
            using var export = Admin(HttpMethod.Get, "/_gateway/config");
            export.Headers.Accept.ParseAdd("application/json");
            var json = await (await rotating.Client.SendAsync(export)).Content.ReadAsStringAsync();
            using var post = Admin(HttpMethod.Post, "/_gateway/config", json, "application/json");
            republished = (await rotating.Client.SendAsync(post)).StatusCode;
        }

        // Step 2: the old key is gone; the registry's current version serves with the new key alone.
        await using var rotated = await StartAsync(null, NewKey, storage: storage);
        var answer = await CallAsync(rotated);
        var underNewKey = await ExportAsync(rotated);

        Assert.Equal(HttpStatusCode.Created, republished);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.NotEqual(EncryptedSecret(underOldKey), EncryptedSecret(underNewKey));
        Assert.DoesNotContain(Secret, underNewKey, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_previous_key_that_is_not_256_bits_is_refused_by_name()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(null, NewKey, Convert.ToBase64String(new byte[16])));

        Assert.Contains("Gateway:Secrets:PreviousKeys:0", error.ToString(), StringComparison.Ordinal);
    }

    private static Task<TestGateway> StartAsync(string? yaml, string key, string? previousKey = null, IDictionary<string, string?>? storage = null)
    {
        var settings = new Dictionary<string, string?>(storage ?? new Dictionary<string, string?>())
        {
            ["Gateway:Secrets:Key"] = key,
            ["Gateway:Admin:Keys:0"] = AdminKey,
        };
        if (previousKey is not null)
        {
            settings["Gateway:Secrets:PreviousKeys:0"] = previousKey;
        }

        return TestGateway.StartAsync(yaml, settings: settings);
    }

    private static async Task<string> ExportAsync(string yaml, string key)
    {
        await using var gateway = await StartAsync(yaml, key);
        return await ExportAsync(gateway);
    }

    private static HttpRequestMessage Admin(HttpMethod method, string path, string? body = null, string? mediaType = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Gateway-Admin-Key", AdminKey);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, mediaType!);
        }

        return request;
    }

    private static async Task<string> ExportAsync(TestGateway gateway)
    {
        using var request = Admin(HttpMethod.Get, "/_gateway/config");
        var response = await gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static string EncryptedSecret(string export)
    {
        var line = export.Split('\n').Single(l => l.Contains("secret:", StringComparison.Ordinal) && !l.Contains("jwt_secrets", StringComparison.Ordinal));
        var value = line[(line.IndexOf("secret:", StringComparison.Ordinal) + "secret:".Length)..].Trim().Trim('"', '\'');
        Assert.StartsWith("enc:v1:", value, StringComparison.Ordinal);
        return value;
    }

    private static Task<HttpResponseMessage> CallAsync(TestGateway gateway)
    {
        static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
        var input = B64("{\"typ\":\"JWT\",\"alg\":\"HS256\"}") + "." + B64("{\"iss\":\"alice-key\"}");
        var token = input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.ASCII.GetBytes(input)));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api");
        request.Headers.Authorization = new("Bearer", token);
        return gateway.Client.SendAsync(request);
    }
}
