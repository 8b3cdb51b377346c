using System.Net;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong's key-auth and acl on real requests: what the client gets and what reaches the backend.</summary>
public sealed class KeyAuthAclTests
{
    private static string Config(string backendUrl, string keyAuthConfig = "{}", string? acl = null, string? anonymous = null) => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{{backendUrl}}"
          routes:
          - name: r
            paths: [/api]
          plugins:
          - name: key-auth
            config: {{keyAuthConfig}}
        {{(acl is null ? "" : $"  - name: acl\n    config: {acl}\n")}}
        consumers:
        - username: alice
          custom_id: a-1
          keyauth_credentials: [{key: alice-key-0001}]
          acls: [{group: admins}, {group: staff}]
        - username: bob
          keyauth_credentials: [{key: "{{Registry.CredentialProtector.HashKey("bob-key-0002")}}"}]
        {{(anonymous is null ? "" : $"- username: {anonymous}\n")}}
        """;

    [Fact(Timeout = 60_000)]
    public async Task A_valid_key_passes_with_Kongs_identity_headers_and_bad_keys_never_reach_the_backend()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());

        using var valid = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        valid.Headers.Add("apikey", "alice-key-0001");
        valid.Headers.Add("X-Consumer-ID", "forged");
        valid.Headers.Add("X-Anonymous-Consumer", "true");
        var ok = await gateway.Client.SendAsync(valid);
        var byQuery = await gateway.Client.GetAsync("/api/x?apikey=bob-key-0002&page=2");
        var none = await gateway.Client.GetAsync("/api/x");
        var wrong = await gateway.Client.GetAsync("/api/x?apikey=nope");
        using var hashAsKey = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        hashAsKey.Headers.Add("apikey", Registry.CredentialProtector.HashKey("bob-key-0002"));
        var hashed = await gateway.Client.SendAsync(hashAsKey);
        // Two header lines (HttpClient would fold them into one comma-separated value).
        var duplicate = await RawHttp.GetAsync(gateway.BaseAddress, "/api/x", "apikey: alice-key-0001", "apikey: bob-key-0002");

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byQuery.StatusCode);
        var seen = backend.Requests.ToArray();
        Assert.Equal(2, seen.Length);
        var alice = seen[0].Headers;
        Assert.NotEqual("forged", alice["X-Consumer-ID"]);
        Assert.Equal("alice", alice["X-Consumer-Username"]);
        Assert.Equal("a-1", alice["X-Consumer-Custom-ID"]);
        Assert.Matches("^[0-9a-f-]{36}$", alice["X-Credential-Identifier"]);
        Assert.False(alice.ContainsKey("X-Anonymous-Consumer"));
        Assert.Equal("alice-key-0001", alice["apikey"]);
        Assert.Equal("/x?apikey=bob-key-0002&page=2", seen[1].RawTarget);
        Assert.Equal("bob", seen[1].Headers["X-Consumer-Username"]);

        foreach (var (response, detail) in new[] { (none, "No API key found"), (wrong, "Invalid authentication credentials"), (hashed, "Invalid authentication credentials") })
        {
            Assert.Contains(detail, await Problem.AssertAsync(response, HttpStatusCode.Unauthorized), StringComparison.Ordinal);
            Assert.Equal("Key realm=\"kong\"", response.Headers.WwwAuthenticate.ToString());
        }

        Assert.Equal(401, duplicate.Status);
        Assert.Contains("Duplicate API key found", duplicate.Body, StringComparison.Ordinal);
        Assert.Equal(2, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Hide_credentials_removes_the_key_from_header_and_query()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{hide_credentials: true, key_names: [apikey, x-api-key]}"), settings: AdminSettings());

        using var header = new HttpRequestMessage(HttpMethod.Get, "/api/h");
        header.Headers.Add("X-Api-Key", "alice-key-0001");
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(header)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/q?a=1&apikey=alice-key-0001&b=2")).StatusCode);

        var seen = backend.Requests.ToArray();
        Assert.False(seen[0].Headers.ContainsKey("X-Api-Key"));
        Assert.Equal("/q?a=1&b=2", seen[1].RawTarget);
    }

    [Fact(Timeout = 60_000)]
    public async Task Anonymous_lets_keyless_requests_through_as_the_anonymous_consumer()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{anonymous: guest}", anonymous: "guest"), settings: AdminSettings());

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/x?apikey=wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/x?apikey=alice-key-0001")).StatusCode);

        var seen = backend.Requests.ToArray();
        Assert.Equal("true", seen[0].Headers["X-Anonymous-Consumer"]);
        Assert.Equal("guest", seen[0].Headers["X-Consumer-Username"]);
        Assert.False(seen[0].Headers.ContainsKey("X-Credential-Identifier"));
        Assert.Equal("true", seen[1].Headers["X-Anonymous-Consumer"]);
        Assert.Equal("alice", seen[2].Headers["X-Consumer-Username"]);
        Assert.False(seen[2].Headers.ContainsKey("X-Anonymous-Consumer"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Acl_allows_by_group_forwards_the_groups_and_forbids_the_rest()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, acl: "{allow: [admins]}"), settings: AdminSettings());

        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/x?apikey=alice-key-0001");
        forged.Headers.Add("X-Consumer-Groups", "root");
        var alice = await gateway.Client.SendAsync(forged);
        var bob = await gateway.Client.GetAsync("/api/x?apikey=bob-key-0002");

        Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
        Assert.Equal("admins, staff", Assert.Single(backend.Requests).Headers["X-Consumer-Groups"]);
        Assert.Contains("cannot consume", await Problem.AssertAsync(bob, HttpStatusCode.Forbidden), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Acl_deny_and_consumer_scoped_plugins_pick_the_most_specific_instance()
    {
        await using var backend = await TestBackend.StartAsync();
        // A global acl denying staff, and a more specific one for bob alone that denies nobody he is in.
        var yaml = Config(backend.Url, acl: "{deny: [staff]}") + """

            plugins:
            - name: acl
              consumer: bob
              config: {deny: [nobody]}
            """;
        await using var gateway = await TestGateway.StartAsync(yaml, settings: AdminSettings());

        var alice = await gateway.Client.GetAsync("/api/x?apikey=alice-key-0001");
        var bob = await gateway.Client.GetAsync("/api/x?apikey=bob-key-0002");

        await Problem.AssertAsync(alice, HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_deleted_key_stops_working_at_once_and_a_created_key_is_shown_once()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: AdminSettings());
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/x?apikey=alice-key-0001")).StatusCode);

        var list = (JsonObject)JsonNode.Parse(await (await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/consumers/alice/key-auth"))).Content.ReadAsStringAsync())!;
        var id = list["data"]![0]!["id"]!.GetValue<string>();
        var delete = await gateway.Client.SendAsync(Admin(HttpMethod.Delete, $"/_gateway/consumers/alice/key-auth/{id}"));
        var created = (JsonObject)JsonNode.Parse(await (await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/key-auth", "{}"))).Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await Problem.AssertAsync(await gateway.Client.GetAsync("/api/x?apikey=alice-key-0001"), HttpStatusCode.Unauthorized);
        using var withNew = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        withNew.Headers.Add("apikey", created["key"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(withNew)).StatusCode);
    }
}
