using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Every management path and status code of DESIGN.md §5 on the Standalone host (DB-less store).</summary>
public sealed class ManagementApiTests
{
    internal const string AdminKey = "test-admin-key-0123456789";

    internal static Dictionary<string, string?> AdminSettings(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Admin:Keys:0"] = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("other-admin-key-abcdefgh"))),
            ["Gateway:Admin:Keys:1"] = AdminKey,
            ["Gateway:Secrets:Key"] = Convert.ToBase64String(new byte[32]),
        };
        foreach (var (k, v) in extra ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    internal static HttpRequestMessage Admin(HttpMethod method, string path, string? body = null, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Gateway-Admin-Key", AdminKey);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return request;
    }

    internal static async Task<JsonObject> JsonAsync(HttpResponseMessage response) =>
        (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    private static string Config(string backendUrl) => $$"""
        _format_version: "3.0"
        services:
        - name: users
          url: "{{backendUrl}}"
          tags: [team-a]
          routes:
          - name: users-route
            paths: [/users]
        consumers:
        - username: alice
          keyauth_credentials: [{"key": "alice-plain-key-value"}]
          jwt_secrets: [{"key": "alice-iss", "algorithm": "HS256", "secret": "alice-hmac-secret-value"}]
        """;

    [Fact(Timeout = 60_000)]
    public async Task Health_is_anonymous_and_reports_version_or_503_without_config()
    {
        await using (var empty = await TestGateway.StartAsync(null, settings: AdminSettings()))
        {
            var none = await empty.Client.GetAsync("/_gateway/health");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
            Assert.Equal("unavailable", (await JsonAsync(none))["status"]!.GetValue<string>());
        }

        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());

        var health = await gateway.Client.GetAsync("/_gateway/health");
        var head = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/_gateway/health"));

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var json = await JsonAsync(health);
        Assert.Equal("ok", json["status"]!.GetValue<string>());
        Assert.Equal(1, json["config_version"]!.GetValue<long>());
        Assert.Equal("not configured", json["storage"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.DoesNotContain("secret", await health.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact(Timeout = 60_000)]
    public async Task Admin_calls_need_a_valid_key_and_repeated_failures_lock_the_address_out()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        var missing = await gateway.Client.GetAsync("/_gateway/services");
        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/_gateway/services");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "eyJ.x.y");
        var bearerResponse = await gateway.Client.SendAsync(bearer);
        var ok = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services"));
        using var hashedKey = new HttpRequestMessage(HttpMethod.Get, "/_gateway/services");
        hashedKey.Headers.Add("X-Gateway-Admin-Key", "other-admin-key-abcdefgh");
        var okHashed = await gateway.Client.SendAsync(hashedKey);

        await Problem.AssertAsync(missing, HttpStatusCode.Unauthorized);
        await Problem.AssertAsync(bearerResponse, HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.OK, okHashed.StatusCode);

        HttpResponseMessage last = null!;
        for (var i = 0; i < 11; i++)
        {
            using var wrong = new HttpRequestMessage(HttpMethod.Get, "/_gateway/services");
            wrong.Headers.Add("X-Gateway-Admin-Key", $"wrong-key-{i}");
            last = await gateway.Client.SendAsync(wrong);
        }

        await Problem.AssertAsync(last, HttpStatusCode.TooManyRequests);
        Assert.True(last.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        // Locked out: even the right key is refused from this address for now.
        await Problem.AssertAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services")), HttpStatusCode.TooManyRequests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Import_validates_everything_and_changes_nothing_on_error()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        var bad = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config",
            "_format_version: \"3.0\"\nservices:\n- {name: a, url: \"ftp://x\"}\n- {name: a, host: b, port: 99999}\n", "application/yaml"));
        var wrongType = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", "x", "text/plain"));
        var tooBig = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", "_format_version: \"3.0\"\n#" + new string('x', 17 * 1024 * 1024), "application/yaml"));

        var detail = await Problem.AssertAsync(bad, HttpStatusCode.BadRequest);
        var errors = (await JsonAsync(bad))["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        Assert.Contains("services[0].url", errors);
        Assert.Contains("services[1].name", errors);
        Assert.Contains("services[1].port", errors);
        Assert.Contains("3 error", detail, StringComparison.Ordinal);
        await Problem.AssertAsync(wrongType, HttpStatusCode.UnsupportedMediaType);
        await Problem.AssertAsync(tooBig, HttpStatusCode.RequestEntityTooLarge);
        var history = await JsonAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config/history")));
        Assert.Single(history["data"]!.AsArray());

        var good = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", Config(backend.Url), "application/yaml"));
        Assert.Equal(HttpStatusCode.Created, good.StatusCode);
        Assert.Equal(2, (await JsonAsync(good))["version"]!.GetValue<long>());
        Assert.Equal("GET /x", await gateway.Client.GetStringAsync("/users/x"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Dry_run_returns_the_diff_and_applies_nothing()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());
        var changed = Config(backend.Url).Replace("paths: [/users]", "paths: [/people]", StringComparison.Ordinal)
            + "\n- username: bob\n";

        var dry = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config?dry_run=true", changed, "application/yaml"));

        Assert.Equal(HttpStatusCode.OK, dry.StatusCode);
        var changes = (await JsonAsync(dry))["changes"]!.AsArray().Select(c => $"{c!["action"]} {c["kind"]} {c["name"]}").ToList();
        Assert.Equal(["update route users-route", "create consumer bob"], changes);
        Assert.Equal("GET /x", await gateway.Client.GetStringAsync("/users/x"));
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.GetAsync("/people")).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Select_tags_syncs_only_the_tagged_entities()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());

        // Team B syncs its own file: team A's service must survive it.
        var teamB = $"_format_version: \"3.0\"\nservices:\n- {{name: orders, url: \"{backend.Url}\", routes: [{{name: orders-route, paths: [/orders]}}]}}\n";
        var first = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config?select_tags=team-b", teamB, "application/yaml"));
        var again = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config?select_tags=team-b",
            "_format_version: \"3.0\"\nservices: []\n", "application/yaml"));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        var deleted = (await JsonAsync(again))["changes"]!.AsArray().Select(c => $"{c!["action"]} {c["kind"]} {c["name"]}").ToList();
        Assert.Contains("delete service orders", deleted);
        Assert.DoesNotContain(deleted, d => d.Contains("users", StringComparison.Ordinal));
        Assert.Equal("GET /x", await gateway.Client.GetStringAsync("/users/x"));
        var exportB = await (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config?select_tags=team-a"))).Content.ReadAsStringAsync();
        Assert.Contains("name: \"users\"", exportB, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Export_never_contains_a_plain_secret_and_reimports_to_the_same_config()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());

        var export = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"));
        var yaml = await export.Content.ReadAsStringAsync();
        var json = await (await gateway.Client.SendAsync(WithAccept(Admin(HttpMethod.Get, "/_gateway/config"), "application/json"))).Content.ReadAsStringAsync();
        var reimport = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config?dry_run=true", yaml, "application/yaml"));
        var history = await (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config/history/1"))).Content.ReadAsStringAsync();

        Assert.Equal("application/yaml", export.Content.Headers.ContentType?.MediaType);
        Assert.Equal("\"v1\"", export.Headers.ETag?.Tag);
        foreach (var text in new[] { yaml, json, history })
        {
            Assert.DoesNotContain("alice-plain-key-value", text, StringComparison.Ordinal);
            Assert.DoesNotContain("alice-hmac-secret-value", text, StringComparison.Ordinal);
            Assert.Contains("sha256:", text, StringComparison.Ordinal);
            Assert.Contains("enc:v1:", text, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, reimport.StatusCode);
        Assert.Empty((await JsonAsync(reimport))["changes"]!.AsArray());
    }

    private static HttpRequestMessage WithAccept(HttpRequestMessage request, string accept)
    {
        request.Headers.Accept.ParseAdd(accept);
        return request;
    }

    [Fact(Timeout = 60_000)]
    public async Task History_records_actors_and_rollback_restores_a_version()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());

        var delete = await gateway.Client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/routes/users-route"));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.GetAsync("/users/x")).StatusCode);

        var rollback = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config/rollback/1"));
        var history = await JsonAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config/history")));
        var unknown = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config/rollback/42"));
        var unknownVersion = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config/history/42"));

        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        Assert.Equal(3, (await JsonAsync(rollback))["version"]!.GetValue<long>());
        Assert.Equal("GET /x", await gateway.Client.GetStringAsync("/users/x"));
        var entries = history["data"]!.AsArray().Select(v => $"{v!["version"]} {v["actor"]} {v["action"]} {v["current"]}").ToList();
        Assert.Equal(["3 admin-key:1 rollback to 1 true", "2 admin-key:1 delete route users-route false", "1 config-file load Gateway:ConfigFile false"], entries);
        Assert.DoesNotContain(AdminKey, history.ToJsonString(), StringComparison.Ordinal);
        await Problem.AssertAsync(unknown, HttpStatusCode.NotFound);
        await Problem.AssertAsync(unknownVersion, HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 60_000)]
    public async Task Stale_If_Match_on_import_is_412_and_nothing_is_lost()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());
        var etag = (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"))).Headers.ETag!.Tag;
        var create = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", $"{{\"name\": \"other\", \"url\": \"{backend.Url}\"}}"));
        Assert.Equal(HttpStatusCode.Created, create.StatusCode);

        var stale = Admin(HttpMethod.Post, "/_gateway/config", "_format_version: \"3.0\"\n", "application/yaml");
        stale.Headers.IfMatch.ParseAdd(etag);
        var response = await gateway.Client.SendAsync(stale);

        await Problem.AssertAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/other"))).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Unknown_paths_are_404_and_wrong_methods_405()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        await Problem.AssertAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/nothing")), HttpStatusCode.NotFound);
        await Problem.AssertAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/nope")), HttpStatusCode.NotFound);
        await Problem.AssertAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/config")), HttpStatusCode.MethodNotAllowed);
        await Problem.AssertAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services/x", "{}")), HttpStatusCode.MethodNotAllowed);
    }

    [Fact(Timeout = 60_000)]
    public async Task Metrics_are_prometheus_text_behind_the_admin_key()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        var anonymous = await gateway.Client.GetAsync("/_gateway/metrics");
        var metrics = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/metrics"));

        await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized);
        Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
        Assert.Contains("gateway_config_version 1", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
