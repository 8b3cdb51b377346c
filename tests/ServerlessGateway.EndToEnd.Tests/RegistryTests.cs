using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>The table-backed registry with real Azurite: several instances, outages, cold starts, rollback.</summary>
public sealed class RegistryTests
{
    private static Dictionary<string, string?> StorageSettings(AzuriteServer azurite, string prefix, string? extraKey = null, string? extraValue = null)
    {
        var settings = AdminSettings(new Dictionary<string, string?>
        {
            ["GatewayStorage"] = azurite.ConnectionString,
            ["Gateway:TablePrefix"] = prefix,
            ["Gateway:ConfigRefreshSeconds"] = "1",
        });
        if (extraKey is not null)
        {
            settings[extraKey] = extraValue;
        }

        return settings;
    }

    private static string NewPrefix() => "T" + Guid.NewGuid().ToString("N")[..10];

    private static string OneRoute(string backendUrl, string path) =>
        $"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"{backendUrl}\", routes: [{{name: r, paths: [{path}]}}]}}\n";

    private static async Task ImportAsync(TestGateway gateway, string yaml)
    {
        var response = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", yaml, "application/yaml"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static async Task<HttpStatusCode> StatusAsync(TestGateway gateway, string path) =>
        (await gateway.Client.GetAsync(path)).StatusCode;

    private static async Task<JsonObject> HealthAsync(TestGateway gateway) =>
        (JsonObject)JsonNode.Parse(await gateway.Client.GetStringAsync("/_gateway/health"))!;

    [Fact(Timeout = 120_000)]
    public async Task A_second_instance_serves_a_change_within_the_refresh_interval()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        var prefix = NewPrefix();
        await using var a = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, prefix));
        await using var b = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, prefix));

        await ImportAsync(a, OneRoute(backend.Url, "/shared"));
        var took = await Eventually.HoldsAsync(async () => await StatusAsync(b, "/shared/x") == HttpStatusCode.OK, TimeSpan.FromSeconds(15), "instance B serves the route");

        Assert.Equal("ok", (await HealthAsync(b))["status"]!.GetValue<string>());
        Assert.Equal(1, (await HealthAsync(b))["config_version"]!.GetValue<long>());
        // One poll interval (1 s) plus the poll itself; generous for a loaded 2-core machine.
        Assert.True(took < TimeSpan.FromSeconds(5), $"took {took}");
    }

    [Fact(Timeout = 120_000)]
    public async Task With_storage_down_the_gateway_keeps_routing_and_health_says_degraded()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, NewPrefix()));
        await ImportAsync(gateway, OneRoute(backend.Url, "/kept"));

        await azurite.StopAsync();
        await Eventually.HoldsAsync(async () => (await HealthAsync(gateway))["status"]!.GetValue<string>() == "degraded", TimeSpan.FromSeconds(30), "health reports degraded");
        var proxied = await gateway.Client.GetAsync("/kept/1");
        var write = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", "{\"name\": \"n\", \"host\": \"n.internal\"}"));

        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        var health = await HealthAsync(gateway);
        Assert.Equal("unreachable", health["storage"]!.GetValue<string>());
        Assert.Equal(1, health["config_version"]!.GetValue<long>());
        await Problem.AssertAsync(write, HttpStatusCode.ServiceUnavailable);

        // Storage back (empty: Azurite kept it in memory): the last good config is still served.
        await azurite.StartAsync();
        await Eventually.HoldsAsync(async () => (await HealthAsync(gateway))["status"]!.GetValue<string>() == "ok", TimeSpan.FromSeconds(30), "health recovers");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(gateway, "/kept/2"));
    }

    [Fact(Timeout = 120_000)]
    public async Task A_cold_start_with_storage_down_serves_the_config_file()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        await azurite.StopAsync();
        await using var backend = await TestBackend.StartAsync();

        var started = Stopwatch.StartNew();
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url, "/fallback"), settings: StorageSettings(azurite, NewPrefix()));
        started.Stop();

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(gateway, "/fallback/x"));
        var health = await HealthAsync(gateway);
        Assert.Equal("degraded", health["status"]!.GetValue<string>());
        Assert.Equal("file", health["config_source"]!.GetValue<string>());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"startup took {started.Elapsed}");
    }

    [Fact(Timeout = 120_000)]
    public async Task Rollback_restores_a_version_on_every_instance()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        var prefix = NewPrefix();
        await using var a = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, prefix));
        await using var b = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, prefix));

        await ImportAsync(a, OneRoute(backend.Url, "/one"));
        await ImportAsync(a, OneRoute(backend.Url, "/two"));
        await Eventually.HoldsAsync(async () => await StatusAsync(b, "/two") == HttpStatusCode.OK, TimeSpan.FromSeconds(15), "B serves version 2");

        var rollback = await b.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config/rollback/1"));
        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);

        foreach (var instance in new[] { a, b })
        {
            await Eventually.HoldsAsync(async () => await StatusAsync(instance, "/one") == HttpStatusCode.OK && await StatusAsync(instance, "/two") == HttpStatusCode.NotFound,
                TimeSpan.FromSeconds(15), "the instance serves version 1's routes again");
        }

        var history = (JsonObject)JsonNode.Parse(await (await a.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config/history"))).Content.ReadAsStringAsync())!;
        Assert.Equal(["3 rollback to 1", "2 import", "1 import"], history["data"]!.AsArray().Select(v => $"{v!["version"]} {v["action"]}"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Export_then_import_round_trips_with_credentials_and_no_plain_secret()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var source = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, NewPrefix()));
        await using var target = await TestGateway.StartAsync(null, settings: StorageSettings(azurite, NewPrefix()));
        await ImportAsync(source, """
            _format_version: "3.0"
            consumers:
            - username: alice
              keyauth_credentials: [{key: alice-plain-key-value}]
              jwt_secrets: [{key: alice-iss, algorithm: HS256, secret: alice-hmac-secret-value}, {key: alice-rsa, algorithm: RS256, rsa_public_key: "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqHh3hmexgBVaE9SgOlbA\niAGTXOu65skOckTLC63/WtHtA4HQ10UENeax3QR6gvbt0DLub1NcF6L0qUsZX65r\ndoq4Xjcafgt09EGF0CRE6biEID4YrKJb4MjMKb/Ltxjb9EcrceCwLlQLakhfIi5W\nLbQ5/1En1DuRyALTrkq24n6rL8Qah0De33XE0l62VD6m6alnMzSxiPgzc0JeEPOO\njPr6HkfYc4cEDGI+pJPWOa9qqsEyFJnJn4DFgcVEwviZwFj24dRvn6lNXn339SHo\noYGDyc8V+NOu+IK5ffLcGTXDoIurqIKQ2qKV7h/MIQasLqHnBnUMA4kISnnDYyh7\nEQIDAQAB\n-----END PUBLIC KEY-----\n"}]
              acls: [{group: admins}]
            """);

        var exported = await (await source.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"))).Content.ReadAsStringAsync();
        await ImportAsync(target, exported);
        var again = await (await target.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"))).Content.ReadAsStringAsync();

        Assert.Equal(exported, again);
        Assert.DoesNotContain("alice-plain-key-value", exported, StringComparison.Ordinal);
        Assert.DoesNotContain("alice-hmac-secret-value", exported, StringComparison.Ordinal);
        Assert.Contains("BEGIN PUBLIC KEY", exported, StringComparison.Ordinal);
    }
}
