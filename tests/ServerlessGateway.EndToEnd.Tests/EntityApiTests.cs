using System.Net;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong-shaped CRUD: 201/200/204, 404, 409, 412, paging, nested resources, and the proxy serving each change.</summary>
public sealed class EntityApiTests
{
    [Fact(Timeout = 60_000)]
    public async Task Services_and_nested_routes_have_Kongs_lifecycle()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var client = gateway.Client;

        var created = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", $"{{\"name\": \"users\", \"url\": \"{backend.Url}/v1\"}}"));
        var duplicate = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", $"{{\"name\": \"users\", \"url\": \"{backend.Url}\"}}"));
        var invalid = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", "{\"name\": \"bad\", \"url\": \"nope\", \"retries\": -1}"));
        var route = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services/users/routes", "{\"name\": \"users-route\", \"paths\": [\"/users\"]}"));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var service = await JsonAsync(created);
        var id = service["id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f-]{36}$", id);
        Assert.Equal("127.0.0.1", service["host"]!.GetValue<string>());
        Assert.Equal("/v1", service["path"]!.GetValue<string>());
        Assert.True(service["created_at"]!.GetValue<long>() > 1_700_000_000);
        await Problem.AssertAsync(duplicate, HttpStatusCode.Conflict);
        await Problem.AssertAsync(invalid, HttpStatusCode.BadRequest);
        var invalidPaths = (await JsonAsync(invalid))["errors"]!.AsArray().Select(e => e!["path"]!.GetValue<string>()).ToList();
        Assert.Equal(["url", "retries"], invalidPaths);
        Assert.Equal(HttpStatusCode.Created, route.StatusCode);
        Assert.Equal(id, (await JsonAsync(route))["service"]!["id"]!.GetValue<string>());

        // The proxy serves the change at once.
        Assert.Equal("GET /v1/7", await client.GetStringAsync("/users/7"));

        var byName = await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/users"));
        var byId = await client.SendAsync(Admin(HttpMethod.Get, $"/_gateway/services/{id}"));
        Assert.Equal(HttpStatusCode.OK, byName.StatusCode);
        Assert.Equal(byName.Headers.ETag, byId.Headers.ETag);
        var etag = byName.Headers.ETag!.Tag;

        var patch = Admin(HttpMethod.Patch, "/_gateway/services/users", "{\"read_timeout\": 5000, \"name\": \"people\"}");
        patch.Headers.IfMatch.ParseAdd(etag);
        var patched = await client.SendAsync(patch);
        var stale = Admin(HttpMethod.Patch, "/_gateway/services/people", "{\"retries\": 1}");
        stale.Headers.IfMatch.ParseAdd(etag);
        var staleResponse = await client.SendAsync(stale);

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(5000, (await JsonAsync(patched))["read_timeout"]!.GetValue<int>());
        await Problem.AssertAsync(staleResponse, HttpStatusCode.PreconditionFailed);
        // The rename carried over to the route's reference.
        Assert.Equal("GET /v1/8", await client.GetStringAsync("/users/8"));
        var routes = await JsonAsync(await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/people/routes")));
        Assert.Equal("users-route", Assert.Single(routes["data"]!.AsArray())!["name"]!.GetValue<string>());

        var deleteReferenced = await client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/services/people"));
        await Problem.AssertAsync(deleteReferenced, HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/routes/users-route"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/services/people"))).StatusCode);
        await Problem.AssertAsync(await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services/people")), HttpStatusCode.NotFound);
        await Problem.AssertAsync(await client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/services/people")), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/users/9")).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Put_creates_then_replaces()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        var create = await gateway.Client.SendAsync(Admin(HttpMethod.Put, "/_gateway/services/billing", "{\"url\": \"http://billing.internal:8080\"}"));
        var replace = await gateway.Client.SendAsync(Admin(HttpMethod.Put, "/_gateway/services/billing", "{\"name\": \"billing\", \"host\": \"billing2.internal\"}"));

        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        var replaced = await JsonAsync(replace);
        Assert.Equal((await JsonAsync(create))["id"]!.GetValue<string>(), replaced["id"]!.GetValue<string>());
        Assert.Equal("billing2.internal", replaced["host"]!.GetValue<string>());
        Assert.Equal(80, replaced["port"]!.GetValue<int>());
    }

    [Fact(Timeout = 60_000)]
    public async Task Lists_use_Kongs_envelope_and_page_with_next()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var yaml = "_format_version: \"3.0\"\nservices:\n" + string.Concat(Enumerable.Range(0, 5).Select(i => $"- {{name: s{i}, host: s{i}.internal, tags: [{(i % 2 == 0 ? "even" : "odd")}]}}\n"));
        Assert.Equal(HttpStatusCode.Created, (await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", yaml, "application/yaml"))).StatusCode);

        var names = new List<string>();
        var next = "/_gateway/services?size=2";
        var pages = 0;
        while (next is not null)
        {
            var page = await JsonAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, next)));
            names.AddRange(page["data"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
            next = page["next"]?.GetValue<string>();
            pages++;
        }

        var even = await JsonAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services?tags=even")));
        var badSize = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services?size=0"));
        var badOffset = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/services?offset=%%%"));

        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], names);
        Assert.Equal(3, pages);
        Assert.Equal(3, even["data"]!.AsArray().Count);
        await Problem.AssertAsync(badSize, HttpStatusCode.BadRequest);
        await Problem.AssertAsync(badOffset, HttpStatusCode.BadRequest);
    }

    [Fact(Timeout = 60_000)]
    public async Task Upstreams_and_targets_balance_the_proxy()
    {
        await using var a = await TestBackend.StartAsync();
        await using var b = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var client = gateway.Client;

        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/upstreams", "{\"name\": \"pool\"}"))).StatusCode);
        var targetA = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/upstreams/pool/targets", $"{{\"target\": \"127.0.0.1:{a.Port}\", \"weight\": 3}}"));
        var targetB = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/upstreams/pool/targets", $"{{\"target\": \"127.0.0.1:{b.Port}\", \"weight\": 1}}"));
        var duplicate = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/upstreams/pool/targets", $"{{\"target\": \"127.0.0.1:{b.Port}\"}}"));
        await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/services", "{\"name\": \"pooled\", \"host\": \"pool\", \"routes\": []}"));
        var badBody = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/routes", "[1, 2]"));
        await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/routes", "{\"name\": \"r\", \"paths\": [\"/p\"], \"service\": {\"name\": \"pooled\"}}"));

        Assert.Equal(HttpStatusCode.Created, targetA.StatusCode);
        Assert.Equal("pool", (await JsonAsync(targetB))["upstream"] is JsonObject up && up["id"] is not null ? "pool" : "missing");
        await Problem.AssertAsync(duplicate, HttpStatusCode.Conflict);
        await Problem.AssertAsync(badBody, HttpStatusCode.BadRequest);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/p")).StatusCode);
        }

        Assert.Equal(6, a.Requests.Count);
        Assert.Equal(2, b.Requests.Count);

        var targets = await JsonAsync(await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/upstreams/pool/targets")));
        Assert.Equal(2, targets["data"]!.AsArray().Count);
        var delete = await client.SendAsync(Admin(HttpMethod.Delete, $"/_gateway/upstreams/pool/targets/127.0.0.1:{a.Port}"));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        for (var i = 0; i < 4; i++)
        {
            await client.GetAsync("/p");
        }

        Assert.Equal(6, b.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Consumer_credentials_are_stored_hashed_or_encrypted_and_shown_once_when_generated()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());
        var client = gateway.Client;

        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers", "{\"username\": \"alice\"}"))).StatusCode);
        var sent = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/key-auth", "{\"key\": \"alice-chosen-key-1\"}"));
        var generated = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/key-auth", "{}"));
        var duplicateKey = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/key-auth", "{\"key\": \"alice-chosen-key-1\"}"));
        var jwt = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/jwt", "{\"key\": \"alice-iss\"}"));
        var acl = await client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/alice/acls", "{\"group\": \"admins\"}"));
        var list = await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/consumers/alice/key-auth"));

        Assert.Equal(HttpStatusCode.Created, sent.StatusCode);
        var sentJson = await JsonAsync(sent);
        Assert.Equal(Registry.CredentialProtector.HashKey("alice-chosen-key-1"), sentJson["key"]!.GetValue<string>());
        Assert.Equal("alice", sentJson["consumer"] is JsonObject ? "alice" : "");
        var generatedKey = (await JsonAsync(generated))["key"]!.GetValue<string>();
        Assert.DoesNotContain("sha256:", generatedKey, StringComparison.Ordinal);
        Assert.True(generatedKey.Length >= 32);
        await Problem.AssertAsync(duplicateKey, HttpStatusCode.Conflict);
        var jwtJson = await JsonAsync(jwt);
        var secret = jwtJson["secret"]!.GetValue<string>();
        Assert.Equal(64, secret.Length);
        Assert.Equal(HttpStatusCode.Created, acl.StatusCode);
        var listed = (await list.Content.ReadAsStringAsync());
        Assert.DoesNotContain(generatedKey, listed, StringComparison.Ordinal);
        Assert.DoesNotContain("alice-chosen-key-1", listed, StringComparison.Ordinal);
        var export = await (await client.SendAsync(Admin(HttpMethod.Get, "/_gateway/config"))).Content.ReadAsStringAsync();
        Assert.DoesNotContain(secret, export, StringComparison.Ordinal);
        Assert.DoesNotContain(generatedKey, export, StringComparison.Ordinal);

        var jwtId = jwtJson["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Admin(HttpMethod.Get, $"/_gateway/consumers/alice/jwt/{jwtId}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(Admin(HttpMethod.Delete, "/_gateway/consumers/alice/acls/admins"))).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Kong_plugins_outside_the_gateway_are_refused_by_name()
    {
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminSettings());

        var response = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/plugins", "{\"name\": \"proxy-cache\"}"));
        var list = await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/plugins"));

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("a Kong plugin this gateway does not support", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty((await JsonAsync(list))["data"]!.AsArray());
    }
}
