using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// The openid-connect plugin and admin bearer tokens on the Standalone host, against a local OpenID
/// provider (discovery + JWK set on 127.0.0.1) and tokens signed in the test.
/// </summary>
public sealed class OpenIdConnectTests
{
    private const string ClientId = "11111111-2222-3333-4444-555555555555";
    private const string Oid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    private static long Now => TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();

    private static string Config(TestIdentityProvider idp, string backend) => $$"""
        _format_version: "3.0"
        consumers:
        - username: alice
          custom_id: alice-cid
        - username: anon
        services:
        - name: api
          url: "{{backend}}"
          routes:
          - name: orders
            paths: [/orders]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV2}}"
                audience_required: [api://orders]
                scopes_required: [orders.read]
                consumer_claim: [preferred_username]
                upstream_headers_claims: [email, tid, roles, groups]
                upstream_headers_names: [X-User-Email, X-Tenant, X-Roles, X-Groups]
          - name: reports
            paths: [/reports]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV2}}"
                roles_required: [Reports.Reader]
          - name: strict
            paths: [/strict]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV2}}"
                consumer_claim: [preferred_username]
                consumer_by: [custom_id]
                consumer_optional: false
                hide_credentials: true
          - name: anonymous
            paths: [/anonymous]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV2}}"
                anonymous: anon
          - name: entra-v2
            paths: [/v2]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV2}}"
                audience_required: ["{{ClientId}}"]
                scopes_required: ["orders.read orders.write"]
                credential_claim: [oid]
          - name: entra-v1
            paths: [/v1]
            plugins:
            - name: openid-connect
              config:
                issuer: "{{idp.IssuerV1}}"
                audience_required: [api://gateway]
                roles_required: [Orders.Reader]
          - name: jwks
            paths: [/jwks]
            plugins:
            - name: openid-connect
              config:
                jwks_uri: "{{idp.JwksUri}}"
                issuers_allowed: ["{{idp.IssuerV2}}"]
        """;

    private static JsonObject Claims(TestIdentityProvider idp, Action<JsonObject>? change = null)
    {
        var claims = new JsonObject
        {
            ["iss"] = idp.IssuerV2,
            ["sub"] = "subject-alice",
            ["aud"] = "api://orders",
            ["scope"] = "orders.read profile",
            ["preferred_username"] = "alice",
            ["email"] = "alice@example.test",
            ["tid"] = "tenant-1",
            ["roles"] = new JsonArray("Orders.Reader", "Reports.Reader"),
            ["iat"] = Now,
            ["nbf"] = Now - 5,
            ["exp"] = Now + 600,
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        change?.Invoke(claims);
        return claims;
    }

    private static HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    private static async Task<(TestIdentityProvider Idp, TestBackend Backend, TestGateway Gateway)> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var idp = await TestIdentityProvider.StartAsync();
        var backend = await TestBackend.StartAsync();
        var gateway = await TestGateway.StartAsync(Config(idp, backend.Url), settings: settings);
        return (idp, backend, gateway);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_valid_token_passes_with_consumer_mapping_and_claim_headers()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;
        var token = TestIdentityProvider.Sign(Claims(idp, c => c["groups"] = new JsonArray("g1", new JsonObject { ["x"] = 1 }, "g2")));

        using var request = Get("/orders/1", token);
        request.Headers.Add("X-Consumer-Username", "root");
        request.Headers.Add("X-User-Email", "spoofed@example.test");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(backend.Requests).Headers;
        Assert.Equal("alice", seen["X-Consumer-Username"]);
        Assert.Equal("alice-cid", seen["X-Consumer-Custom-ID"]);
        Assert.Matches("^[0-9a-f-]{36}$", seen["X-Consumer-ID"]);
        Assert.Equal("subject-alice", seen["X-Credential-Identifier"]);
        Assert.Equal("alice@example.test", seen["X-User-Email"]);
        Assert.Equal("tenant-1", seen["X-Tenant"]);
        Assert.Equal("Orders.Reader, Reports.Reader", seen["X-Roles"]);
        Assert.Equal("g1, g2", seen["X-Groups"]);
        Assert.Equal("Bearer " + token, seen["Authorization"]);
        Assert.False(seen.ContainsKey("X-Anonymous-Consumer"));

        // The same token again is served from the validated-token cache; an ES256 token works as well.
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/orders/2", token))).StatusCode);
        var ec = TestIdentityProvider.Sign(Claims(idp), TestIdentityProvider.EcKid);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/orders/3", ec))).StatusCode);
        // Keys straight from jwks_uri, with the issuer from issuers_allowed.
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/jwks", token))).StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_a_matching_consumer_the_identity_is_the_subject_and_unsafe_claims_are_not_forwarded()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;
        var token = TestIdentityProvider.Sign(Claims(idp, c =>
        {
            c["preferred_username"] = "mallory";
            c["email"] = "m@example.test\r\nX-Injected: 1";
            c["tid"] = "t\u00e9nant";
        }));

        var response = await gateway.Client.SendAsync(Get("/orders", token));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(backend.Requests).Headers;
        Assert.Equal("subject-alice", seen["X-Credential-Identifier"]);
        Assert.False(seen.ContainsKey("X-Consumer-ID"));
        Assert.False(seen.ContainsKey("X-Consumer-Username"));
        Assert.False(seen.ContainsKey("X-User-Email"));
        Assert.False(seen.ContainsKey("X-Injected"));
        Assert.False(seen.ContainsKey("X-Tenant"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Bad_tokens_are_rejected_with_rfc6750_challenges_and_never_reach_the_backend()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;
        var valid = Claims(idp);
        var cases = new (string Name, string Path, string? Token, HttpStatusCode Status, string? Error)[]
        {
            ("no token", "/orders", null, HttpStatusCode.Unauthorized, null),
            ("wrong audience", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["aud"] = "api://other")), HttpStatusCode.Forbidden, "invalid_token"),
            ("missing scope", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["scope"] = "profile")), HttpStatusCode.Forbidden, "insufficient_scope"),
            ("missing role", "/reports", TestIdentityProvider.Sign(Claims(idp, c => c["roles"] = new JsonArray("Orders.Reader"))), HttpStatusCode.Forbidden, "insufficient_scope"),
            ("expired", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["exp"] = Now - 5)), HttpStatusCode.Unauthorized, "invalid_token"),
            ("nbf in the future", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["nbf"] = Now + 300)), HttpStatusCode.Unauthorized, "invalid_token"),
            ("exp not a number", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["exp"] = "tomorrow")), HttpStatusCode.Unauthorized, "invalid_token"),
            ("alg none", "/orders", TestIdentityProvider.Unsigned(valid), HttpStatusCode.Unauthorized, "invalid_token"),
            ("alg None signed", "/orders", TestIdentityProvider.Unsigned(valid, "None") + "c2ln", HttpStatusCode.Unauthorized, "invalid_token"),
            ("wrong issuer", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["iss"] = idp.IssuerV1)), HttpStatusCode.Unauthorized, "invalid_token"),
            ("bad signature", "/orders", TamperPayload(TestIdentityProvider.Sign(valid)), HttpStatusCode.Unauthorized, "invalid_token"),
            ("not a jwt", "/orders", "opaque-token-value", HttpStatusCode.Unauthorized, "invalid_token"),
            ("five segments (JWE)", "/orders", "a.b.c.d.e", HttpStatusCode.Unauthorized, "invalid_token"),
            ("oversize", "/orders", TestIdentityProvider.Sign(Claims(idp, c => c["pad"] = new string('x', 20_000))), HttpStatusCode.Unauthorized, "invalid_token"),
            ("unmapped consumer, consumer_optional false", "/strict", TestIdentityProvider.Sign(Claims(idp, c => c["preferred_username"] = "nobody")), HttpStatusCode.Forbidden, null),
            ("jwks_uri route, other issuer", "/jwks", TestIdentityProvider.Sign(Claims(idp, c => c["iss"] = "https://elsewhere.test/")), HttpStatusCode.Unauthorized, "invalid_token"),
        };

        foreach (var (name, path, token, status, error) in cases)
        {
            var response = await gateway.Client.SendAsync(Get(path, token));

            var detail = await Problem.AssertAsync(response, status);
            var challenge = response.Headers.WwwAuthenticate.ToString();
            if (status == HttpStatusCode.Unauthorized || error is not null)
            {
                Assert.StartsWith("Bearer realm=\"kong\"", challenge, StringComparison.Ordinal);
            }

            if (error is null)
            {
                Assert.DoesNotContain("error=", challenge, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains($"error=\"{error}\"", challenge, StringComparison.Ordinal);
            }

            Assert.False(string.IsNullOrEmpty(detail), name);
        }

        using var basic = new HttpRequestMessage(HttpMethod.Get, "/orders");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "YWxpY2U6c2VjcmV0");
        await Problem.AssertAsync(await gateway.Client.SendAsync(basic), HttpStatusCode.Unauthorized);

        var good = TestIdentityProvider.Sign(valid);
        var twoHeaders = await RawHttp.GetAsync(gateway.BaseAddress, "/orders", "Authorization: Bearer " + good, "Authorization: Bearer " + good);
        Assert.Equal(401, twoHeaders.Status);
        Assert.Contains("error=\"invalid_request\"", twoHeaders.Headers["WWW-Authenticate"], StringComparison.Ordinal);

        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_unknown_kid_refreshes_the_keys_once_then_is_refused_without_further_fetches()
    {
        var time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(idp, backend.Url), services => services.AddSingleton<TimeProvider>(time));
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp))))).StatusCode);
        var fetchesBefore = idp.DiscoveryFetchesV2;
        Assert.Equal(1, fetchesBefore);
        // Past Kong Enterprise's rediscovery_lifetime (30 s) since the keys were loaded.
        time.Advance(TimeSpan.FromSeconds(30));

        var unknown = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
            await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp), TestIdentityProvider.UnpublishedKid)))));
        var again = await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp), TestIdentityProvider.UnpublishedKid)));

        foreach (var response in unknown.Append(again))
        {
            var detail = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("signing key is not known", detail, StringComparison.Ordinal);
        }

        // One refresh for the whole flood (single flight), none for the request after it (throttle).
        Assert.Equal(fetchesBefore + 1, idp.DiscoveryFetchesV2);
        Assert.Single(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_idp_outage_does_not_block_tokens_whose_keys_are_cached()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp))))).StatusCode);

        idp.Down = true;
        var fresh = await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp))));
        var unknown = await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp), TestIdentityProvider.UnpublishedKid)));

        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        await Problem.AssertAsync(unknown, HttpStatusCode.Unauthorized);
        Assert.Equal(2, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_reachable_keys_a_well_formed_token_gets_503_and_garbage_still_401()
    {
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        idp.Down = true;
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(idp, backend.Url));

        var wellFormed = await gateway.Client.SendAsync(Get("/orders", TestIdentityProvider.Sign(Claims(idp))));
        var garbage = await gateway.Client.SendAsync(Get("/orders", "not-a-token"));

        await Problem.AssertAsync(wellFormed, HttpStatusCode.ServiceUnavailable);
        Assert.True(wellFormed.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        await Problem.AssertAsync(garbage, HttpStatusCode.Unauthorized);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Entra_v1_and_v2_shaped_tokens_pass_on_routes_configured_for_them()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;
        var v2 = new JsonObject
        {
            ["aud"] = ClientId,
            ["iss"] = idp.IssuerV2,
            ["iat"] = Now, ["nbf"] = Now - 300, ["exp"] = Now + 3600,
            ["azp"] = "99999999-0000-0000-0000-000000000000",
            ["name"] = "Alice",
            ["oid"] = Oid,
            ["scp"] = "orders.read orders.write",
            ["sub"] = "pairwise-sub-v2",
            ["tid"] = "tenant-1",
            ["ver"] = "2.0",
        };
        var v1 = new JsonObject
        {
            ["aud"] = "api://gateway",
            ["iss"] = idp.IssuerV1,
            ["iat"] = Now, ["nbf"] = Now - 300, ["exp"] = Now + 3600,
            ["appid"] = "99999999-0000-0000-0000-000000000000",
            ["oid"] = Oid,
            ["roles"] = new JsonArray("Orders.Reader"),
            ["sub"] = "pairwise-sub-v1",
            ["tid"] = "tenant-1",
            ["ver"] = "1.0",
        };

        var v2Response = await gateway.Client.SendAsync(Get("/v2/items", TestIdentityProvider.Sign(v2, header: new JsonObject { ["x5t"] = "thumb" })));
        var v1Response = await gateway.Client.SendAsync(Get("/v1/items", TestIdentityProvider.Sign(v1)));
        var v1OnV2Route = await gateway.Client.SendAsync(Get("/v2/items", TestIdentityProvider.Sign(v1)));
        var v2WithoutWrite = v2.DeepClone().AsObject();
        v2WithoutWrite["scp"] = "orders.read";
        var v2Insufficient = await gateway.Client.SendAsync(Get("/v2/items", TestIdentityProvider.Sign(v2WithoutWrite)));

        Assert.Equal(HttpStatusCode.OK, v2Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, v1Response.StatusCode);
        await Problem.AssertAsync(v1OnV2Route, HttpStatusCode.Unauthorized);
        await Problem.AssertAsync(v2Insufficient, HttpStatusCode.Forbidden);
        var seen = backend.Requests.ToArray();
        Assert.Equal(2, seen.Length);
        Assert.Equal(Oid, seen[0].Headers["X-Credential-Identifier"]);
        Assert.Equal("pairwise-sub-v1", seen[1].Headers["X-Credential-Identifier"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Anonymous_makes_a_bad_token_the_anonymous_consumer_and_hide_credentials_removes_the_token()
    {
        var (idp, backend, gateway) = await StartAsync();
        await using var _ = idp;
        await using var __ = backend;
        await using var ___ = gateway;

        var anonymous = await gateway.Client.SendAsync(Get("/anonymous", "not-a-token"));
        var strict = await gateway.Client.SendAsync(Get("/strict", TestIdentityProvider.Sign(Claims(idp, c => c["preferred_username"] = "alice-cid"))));

        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, strict.StatusCode);
        var seen = backend.Requests.ToArray();
        Assert.Equal("true", seen[0].Headers["X-Anonymous-Consumer"]);
        Assert.Equal("anon", seen[0].Headers["X-Consumer-Username"]);
        Assert.Equal("alice", seen[1].Headers["X-Consumer-Username"]);
        Assert.False(seen[1].Headers.ContainsKey("Authorization"));
    }

    private static Dictionary<string, string?> AdminTokenSettings(TestIdentityProvider idp) => ManagementApiTests.AdminSettings(new()
    {
        ["Gateway:Admin:Issuer"] = idp.IssuerV2,
        ["Gateway:Admin:Audience"] = ClientId,
        ["Gateway:Admin:Role"] = "Gateway.Admin",
    });

    private static JsonObject AdminClaims(TestIdentityProvider idp, Action<JsonObject>? change = null)
    {
        var claims = new JsonObject
        {
            ["aud"] = ClientId,
            ["iss"] = idp.IssuerV2,
            ["iat"] = Now, ["nbf"] = Now - 300, ["exp"] = Now + 3600,
            ["oid"] = Oid,
            ["sub"] = "pairwise-sub",
            ["roles"] = new JsonArray("Gateway.Admin"),
            ["tid"] = "tenant-1",
            ["ver"] = "2.0",
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        change?.Invoke(claims);
        return claims;
    }

    [Fact(Timeout = 60_000)]
    public async Task Management_api_accepts_bearer_tokens_with_the_admin_role_and_records_their_subject()
    {
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminTokenSettings(idp));
        var token = TestIdentityProvider.Sign(AdminClaims(idp));

        var list = await gateway.Client.SendAsync(Get("/_gateway/services", token));
        using var create = Get("/_gateway/consumers", token);
        create.Method = HttpMethod.Post;
        create.Content = new StringContent("""{"username": "bob"}""", Encoding.UTF8, "application/json");
        var created = await gateway.Client.SendAsync(create);
        var history = await ManagementApiTests.JsonAsync(await gateway.Client.SendAsync(Get("/_gateway/config/history", token)));
        var byKey = await gateway.Client.SendAsync(ManagementApiTests.Admin(HttpMethod.Get, "/_gateway/services"));

        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Contains(history["data"]!.AsArray(), v => v!["actor"]!.GetValue<string>() == "token:" + Oid);
        Assert.DoesNotContain(token, history.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, byKey.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Management_api_answers_403_without_the_role_and_401_for_invalid_tokens()
    {
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminTokenSettings(idp));

        var noRole = await gateway.Client.SendAsync(Get("/_gateway/services", TestIdentityProvider.Sign(AdminClaims(idp, c => c["roles"] = new JsonArray("Gateway.Reader")))));
        await Problem.AssertAsync(noRole, HttpStatusCode.Forbidden);
        Assert.Contains("insufficient_scope", noRole.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        var invalid = new[]
        {
            TestIdentityProvider.Sign(AdminClaims(idp, c => c["exp"] = Now - 120)),
            TestIdentityProvider.Sign(AdminClaims(idp, c => c["aud"] = "api://something-else")),
            TestIdentityProvider.Sign(AdminClaims(idp, c => c["iss"] = "https://login.microsoftonline.com/other/v2.0")),
            TestIdentityProvider.Sign(AdminClaims(idp), TestIdentityProvider.UnpublishedKid),
            TamperPayload(TestIdentityProvider.Sign(AdminClaims(idp))),
            TestIdentityProvider.Unsigned(AdminClaims(idp)),
        };
        foreach (var token in invalid)
        {
            var response = await gateway.Client.SendAsync(Get("/_gateway/services", token));
            var detail = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized);
            Assert.StartsWith("the bearer token is not valid", detail, StringComparison.Ordinal);
            Assert.Contains("error=\"invalid_token\"", string.Join(" ", response.Headers.WwwAuthenticate), StringComparison.Ordinal);
        }

        var missing = await gateway.Client.SendAsync(Get("/_gateway/services", null));
        await Problem.AssertAsync(missing, HttpStatusCode.Unauthorized);
        Assert.Contains(missing.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        Assert.Contains(missing.Headers.WwwAuthenticate, h => h.Scheme == "X-Gateway-Admin-Key");
    }

    [Fact(Timeout = 60_000)]
    public async Task Failed_admin_tokens_count_toward_the_address_lockout()
    {
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminTokenSettings(idp));
        var expired = TestIdentityProvider.Sign(AdminClaims(idp, c => c["exp"] = Now - 120));

        for (var i = 0; i < 10; i++)
        {
            await Problem.AssertAsync(await gateway.Client.SendAsync(Get("/_gateway/services", expired)), HttpStatusCode.Unauthorized);
        }

        var locked = await gateway.Client.SendAsync(Get("/_gateway/services", TestIdentityProvider.Sign(AdminClaims(idp))));
        await Problem.AssertAsync(locked, HttpStatusCode.TooManyRequests);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_token_without_the_role_never_locks_the_address_out()
    {
        var idp = await TestIdentityProvider.StartAsync();
        await using var _ = idp;
        await using var gateway = await TestGateway.StartAsync("_format_version: \"3.0\"\n", settings: AdminTokenSettings(idp));
        var reader = TestIdentityProvider.Sign(AdminClaims(idp, c => c["roles"] = new JsonArray("Gateway.Reader")));

        for (var i = 0; i < 12; i++)
        {
            await Problem.AssertAsync(await gateway.Client.SendAsync(Get("/_gateway/services", reader)), HttpStatusCode.Forbidden);
        }

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(Get("/_gateway/services", TestIdentityProvider.Sign(AdminClaims(idp))))).StatusCode);
    }

    /// <summary>The token with one claim changed after signing: the signature no longer matches.</summary>
    private static string TamperPayload(string token)
    {
        var parts = token.Split('.');
        var payload = JsonNode.Parse(Convert.FromBase64String(Pad(parts[1].Replace('-', '+').Replace('_', '/'))))!.AsObject();
        payload["sub"] = "someone-else";
        return $"{parts[0]}.{TestIdentityProvider.B64(Encoding.UTF8.GetBytes(payload.ToJsonString()))}.{parts[2]}";
    }

    private static string Pad(string base64) => base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
}
