using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Kong's jwt plugin on real requests, starting from the seed config: what the client gets, and that
/// nothing but a valid token reaches the backend, with Kong's identity headers.
/// </summary>
public sealed class JwtPluginTests
{
    private const string AliceSecret = "alice-hmac-secret-value";
    private static readonly RSA AliceRsa = RSA.Create(2048);
    private static readonly ECDsa BobEc = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string Example(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", name));

    /// <summary>
    /// The seed unchanged (its two jwt plugins, rate-limiting and request-transformer), plus consumers with
    /// jwt_secrets and, on the orders route, a more specific jwt instance that verifies exp/nbf (Kong's
    /// default verifies neither).
    /// </summary>
    private static string Seed(string backendUrl, string? extra = null)
    {
        var aliceRsaPem = AliceRsa.ExportSubjectPublicKeyInfoPem().Replace("\n", "\\n", StringComparison.Ordinal);
        var bobEcPem = BobEc.ExportSubjectPublicKeyInfoPem().Replace("\n", "\\n", StringComparison.Ordinal);
        return Example("seed-kong.yaml")
            .Replace("http://user-service:3001", backendUrl, StringComparison.Ordinal)
            .Replace("http://order-service:3002", backendUrl, StringComparison.Ordinal)
            + $$"""

            consumers:
            - username: alice
              custom_id: a-1
              jwt_secrets:
              - {key: alice-iss, algorithm: HS256, secret: {{AliceSecret}}}
              - {key: alice-rsa, algorithm: RS256, rsa_public_key: "{{aliceRsaPem}}"}
              keyauth_credentials: [{key: alice-api-key-0001}]
            - username: bob
              jwt_secrets: [{key: bob-es, algorithm: ES256, rsa_public_key: "{{bobEcPem}}"}]
            - username: guest
            plugins:
            - name: jwt
              route: orders-route
              config: {claims_to_verify: [exp, nbf], maximum_expiration: 3600}
            {{extra}}
            """;
    }

    [Fact]
    public void The_seed_imports_unchanged_with_every_plugin()
    {
        var result = Configuration.KongDeclarativeParser.Parse(Seed("http://127.0.0.1:1"));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(3, result.Config!.Plugins.Count(p => p.Name == "jwt"));
        Assert.Single(result.Config.Plugins, p => p.Name == "rate-limiting");
        Assert.Single(result.Config.Plugins, p => p.Name == "request-transformer");
    }

    [Fact(Timeout = 60_000)]
    public async Task The_seeds_rate_limiting_counts_each_consumer_and_answers_with_its_headers()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url));

        async Task<HttpResponseMessage> GetUsersAsync(string issuer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/users");
            request.Headers.Authorization = new("Bearer", Hmac(new JsonObject { ["iss"] = issuer }));
            return await gateway.Client.SendAsync(request);
        }

        var first = await GetUsersAsync("alice-iss");
        var second = await GetUsersAsync("alice-iss");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("1000", first.Headers.GetValues("X-RateLimit-Limit-Minute").Single());
        Assert.Equal("999", first.Headers.GetValues("X-RateLimit-Remaining-Minute").Single());
        Assert.Equal("998", second.Headers.GetValues("RateLimit-Remaining").Single());
        Assert.Equal("\"minute\";q=1000;w=60", second.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Equal(2, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_seed_imported_into_a_storage_backed_gateway_counts_distributed_and_answers_with_Kongs_and_the_IETF_headers()
    {
        // Arrange: the seed as shipped (policy redis: the distributed policy once a store is configured), imported
        // through the admin API into a gateway on Azurite.
        await using var azurite = await AzuriteServer.StartNewAsync();
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(null, settings: AdminSettings(new()
        {
            ["GatewayStorage"] = azurite.ConnectionString,
            ["Gateway:TablePrefix"] = "T" + Guid.NewGuid().ToString("N")[..10],
        }));
        using var import = Admin(HttpMethod.Post, "/_gateway/config", Seed(backend.Url), "application/yaml");
        var imported = await gateway.Client.SendAsync(import);

        async Task<HttpResponseMessage> GetUsersAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/users");
            request.Headers.Authorization = new("Bearer", Hmac(new JsonObject { ["iss"] = "alice-iss" }));
            return await gateway.Client.SendAsync(request);
        }

        // Act
        var first = await GetUsersAsync();
        var second = await GetUsersAsync();
        using var metricsRequest = Admin(HttpMethod.Get, "/_gateway/metrics");
        var metrics = await (await gateway.Client.SendAsync(metricsRequest)).Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.Created, imported.StatusCode);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("1000", first.Headers.GetValues("X-RateLimit-Limit-Minute").Single());
        Assert.Equal("999", first.Headers.GetValues("X-RateLimit-Remaining-Minute").Single());
        Assert.Equal("998", second.Headers.GetValues("X-RateLimit-Remaining-Minute").Single());
        Assert.Equal("1000", second.Headers.GetValues("RateLimit-Limit").Single());
        Assert.Equal("998", second.Headers.GetValues("RateLimit-Remaining").Single());
        Assert.InRange(long.Parse(second.Headers.GetValues("RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        Assert.Equal("\"minute\";q=1000;w=60", second.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Matches("^\"minute\";r=998;t=([1-9]|[1-5][0-9]|60)$", second.Headers.GetValues("RateLimit").Single());
        Assert.Equal(2, backend.Requests.Count);
        Assert.Matches("gateway_rate_limit_decisions[^\n]*policy=\"distributed\"", metrics);
    }

    [Fact(Timeout = 60_000)]
    public async Task Valid_tokens_reach_the_backend_with_Kongs_identity_headers_and_forged_ones_removed()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url), settings: AdminSettings());

        using var hs = new HttpRequestMessage(HttpMethod.Get, "/api/users/7");
        hs.Headers.Authorization = new("Bearer", Hmac(new JsonObject { ["iss"] = "alice-iss", ["sub"] = "u7" }));
        hs.Headers.Add("X-Consumer-ID", "forged-id");
        hs.Headers.Add("X-Consumer-Username", "root");
        hs.Headers.Add("X-Credential-Identifier", "forged-credential");
        hs.Headers.Add("X-Anonymous-Consumer", "true");
        var viaHeader = await gateway.Client.SendAsync(hs);
        var rsToken = Rsa(new JsonObject { ["iss"] = "alice-rsa", ["exp"] = Now + 600, ["nbf"] = Now - 5 });
        var viaQuery = await gateway.Client.GetAsync($"/api/orders/1?jwt={rsToken}&page=2");
        using var es = new HttpRequestMessage(HttpMethod.Post, "/api/users");
        es.Headers.Authorization = new("bearer", Ecdsa(new JsonObject { ["iss"] = "bob-es" }));
        var bob = await gateway.Client.SendAsync(es);

        Assert.Equal(HttpStatusCode.OK, viaHeader.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaQuery.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        var seen = backend.Requests.ToArray();
        Assert.Equal(3, seen.Length);
        var alice = seen[0].Headers;
        Assert.Matches("^[0-9a-f-]{36}$", alice["X-Consumer-ID"]);
        Assert.Equal("alice", alice["X-Consumer-Username"]);
        Assert.Equal("a-1", alice["X-Consumer-Custom-ID"]);
        Assert.Equal("alice-iss", alice["X-Credential-Identifier"]);
        Assert.False(alice.ContainsKey("X-Anonymous-Consumer"));
        Assert.StartsWith("Bearer ", alice["Authorization"], StringComparison.Ordinal); // Kong's jwt forwards the token
        Assert.Equal("/1?jwt=" + rsToken + "&page=2", seen[1].RawTarget);
        Assert.Equal("alice-rsa", seen[1].Headers["X-Credential-Identifier"]);
        Assert.Equal(alice["X-Consumer-ID"], seen[1].Headers["X-Consumer-ID"]);
        Assert.Equal("bob", seen[2].Headers["X-Consumer-Username"]);
        Assert.Equal("bob-es", seen[2].Headers["X-Credential-Identifier"]);
        Assert.False(seen[2].Headers.ContainsKey("X-Consumer-Custom-ID"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Every_bad_token_gets_a_401_problem_and_never_reaches_the_backend()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url), settings: AdminSettings());
        var claims = new JsonObject { ["iss"] = "alice-iss", ["exp"] = Now + 600, ["nbf"] = Now - 5 };
        var valid = Hmac(claims);
        var parts = valid.Split('.');
        var other = Hmac(With(claims, "sub", "admin"), "some-other-secret");
        var rsaPem = AliceRsa.ExportSubjectPublicKeyInfoPem();
        const string InvalidToken = "Bearer error=\"invalid_token\"";

        var cases = new (string Name, Func<HttpRequestMessage> Request, string Detail, string Challenge)[]
        {
            ("no token", () => Get(null), "Unauthorized", "Bearer"),
            ("not three segments", () => Get(parts[0] + "." + parts[1]), "expected three base64url segments", InvalidToken),
            ("four segments", () => Get(valid + "." + parts[2]), "expected three base64url segments", InvalidToken),
            ("bad base64url", () => Get(parts[0] + "." + parts[1] + "*." + parts[2]), "Bad token; invalid base64url", InvalidToken),
            ("bad JSON", () => Get(B64("{\"alg\":") + "." + parts[1] + "." + parts[2]), "Bad token; invalid JSON", InvalidToken),
            ("payload not an object", () => Get(parts[0] + "." + B64("[\"alice-iss\"]") + "." + parts[2]), "Bad token; invalid claims", InvalidToken),
            ("alg none", () => Get(Unsigned("none", claims)), "Bad token; invalid alg", InvalidToken),
            ("alg NONE", () => Get(Unsigned("NONE", claims)), "Bad token; invalid alg", InvalidToken),
            ("alg nOnE", () => Get(Unsigned("nOnE", claims)), "Bad token; invalid alg", InvalidToken),
            ("algorithm confusion", () => Get(Hmac(With(claims, "iss", "alice-rsa"), rsaPem)), "Invalid algorithm", InvalidToken),
            ("wrong signature", () => Get(parts[0] + "." + parts[1] + "." + other.Split('.')[2]), "Invalid signature", InvalidToken),
            ("stripped signature", () => Get(parts[0] + "." + parts[1] + "."), "Invalid signature", InvalidToken),
            ("payload swapped after signing", () => Get(parts[0] + "." + other.Split('.')[1] + "." + parts[2]), "Invalid signature", InvalidToken),
            ("expired", () => Get(Hmac(With(claims, "exp", Now - 1))), "exp: token expired", InvalidToken),
            ("nbf in the future", () => Get(Hmac(With(claims, "nbf", Now + 300))), "nbf: token not valid yet", InvalidToken),
            ("beyond maximum_expiration", () => Get(Hmac(With(claims, "exp", Now + 7200))), "exp: exceeds maximum allowed expiration", InvalidToken),
            ("exp not a number", () => Get(Hmac(With(claims, "exp", "tomorrow"))), "exp: must be a number", InvalidToken),
            ("unknown iss", () => Get(Hmac(With(claims, "iss", "mallory"))), "No credentials found for given 'iss'", InvalidToken),
            ("missing key claim", () => Get(Hmac(new JsonObject { ["exp"] = Now + 60, ["nbf"] = Now - 5 })), "No mandatory 'iss' in claims", InvalidToken),
            ("oversize token", () => Get(Hmac(With(claims, "pad", new string('x', 9000)))), "Bad token; longer than 8192 characters", InvalidToken),
            ("two different tokens", () => Get(valid, query: Hmac(With(claims, "sub", "x"))), "Multiple tokens provided", "Bearer error=\"invalid_request\""),
            ("spoofed identity headers only", () => Spoofed(), "Unauthorized", "Bearer"),
        };

        foreach (var (name, request, detail, challenge) in cases)
        {
            using var message = request();
            using var response = await gateway.Client.SendAsync(message);
            var problem = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized);
            Assert.True(problem.Contains(detail, StringComparison.Ordinal), $"{name}: '{problem}' lacks '{detail}'");
            Assert.True(challenge == response.Headers.WwwAuthenticate.ToString(), $"{name}: challenge '{response.Headers.WwwAuthenticate}'");
        }

        Assert.Empty(backend.Requests);
        using var control = await gateway.Client.SendAsync(Get(valid));
        Assert.Equal(HttpStatusCode.OK, control.StatusCode);
        Assert.Single(backend.Requests);

        static HttpRequestMessage Get(string? token, string? query = null)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/api/orders" + (query is null ? "" : "?jwt=" + query));
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            }

            return request;
        }

        static HttpRequestMessage Spoofed()
        {
            var request = Get(null);
            request.Headers.Add("X-Consumer-Username", "alice");
            request.Headers.Add("X-Credential-Identifier", "alice-iss");
            return request;
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Anonymous_lets_tokenless_and_bad_requests_through_as_the_anonymous_consumer()
    {
        await using var backend = await TestBackend.StartAsync();
        var yaml = Seed(backend.Url).Replace("config: {claims_to_verify: [exp, nbf], maximum_expiration: 3600}", "config: {anonymous: guest}", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(yaml, settings: AdminSettings());

        var none = await gateway.Client.GetAsync("/api/orders");
        var bad = await gateway.Client.GetAsync("/api/orders?jwt=not.a.token");
        var good = await gateway.Client.GetAsync("/api/orders?jwt=" + Hmac(new JsonObject { ["iss"] = "alice-iss" }));
        var usersWithout = await gateway.Client.GetAsync("/api/users");

        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bad.StatusCode);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        await Problem.AssertAsync(usersWithout, HttpStatusCode.Unauthorized);
        var seen = backend.Requests.ToArray();
        Assert.Equal(3, seen.Length);
        foreach (var anonymous in seen[..2])
        {
            Assert.Equal("guest", anonymous.Headers["X-Consumer-Username"]);
            Assert.Equal("true", anonymous.Headers["X-Anonymous-Consumer"]);
            Assert.False(anonymous.Headers.ContainsKey("X-Credential-Identifier"));
        }

        Assert.Equal("alice", seen[2].Headers["X-Consumer-Username"]);
        Assert.False(seen[2].Headers.ContainsKey("X-Anonymous-Consumer"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_on_preflight_false_lets_a_CORS_preflight_through_and_true_does_not()
    {
        await using var backend = await TestBackend.StartAsync();
        var yaml = Seed(backend.Url).Replace("config: {claims_to_verify: [exp, nbf], maximum_expiration: 3600}", "config: {run_on_preflight: false}", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(yaml, settings: AdminSettings());

        var orders = await gateway.Client.SendAsync(Preflight("/api/orders"));
        var plainOptions = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/api/orders"));
        var users = await gateway.Client.SendAsync(Preflight("/api/users"));

        Assert.Equal(HttpStatusCode.OK, orders.StatusCode);
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("OPTIONS", seen.Method);
        Assert.False(seen.Headers.ContainsKey("X-Consumer-ID"));
        await Problem.AssertAsync(plainOptions, HttpStatusCode.Unauthorized);
        // users-route has methods [GET, POST]: a preflight there finds no route, as in Kong.
        await Problem.AssertAsync(users, HttpStatusCode.NotFound);

        static HttpRequestMessage Preflight(string path)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, path);
            request.Headers.Add("Origin", "https://app.example");
            request.Headers.Add("Access-Control-Request-Method", "GET");
            return request;
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_deleted_credential_stops_working_at_once_even_for_a_cached_token()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url), settings: AdminSettings());
        var token = Hmac(new JsonObject { ["iss"] = "alice-iss" });
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/users?jwt=" + token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/api/users?jwt=" + token)).StatusCode);

        var list = await JsonAsync(await gateway.Client.SendAsync(Admin(HttpMethod.Get, "/_gateway/consumers/alice/jwt")));
        var id = list["data"]!.AsArray().Single(c => c!["key"]!.GetValue<string>() == "alice-iss")!["id"]!.GetValue<string>();
        var delete = await gateway.Client.SendAsync(Admin(HttpMethod.Delete, $"/_gateway/consumers/alice/jwt/{id}"));
        var after = await gateway.Client.GetAsync("/api/users?jwt=" + token);
        var created = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/bob/jwt", "{\"key\": \"bob-new\", \"secret\": \"bob-new-secret\"}"));
        var withNew = await gateway.Client.GetAsync("/api/users?jwt=" + Hmac(new JsonObject { ["iss"] = "bob-new" }, "bob-new-secret"));
        var eddsa = await gateway.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/consumers/bob/jwt", "{\"key\": \"bob-ed\", \"algorithm\": \"EdDSA\", \"rsa_public_key\": \"x\"}"));

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Contains("No credentials found for given 'iss'", await Problem.AssertAsync(after, HttpStatusCode.Unauthorized), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withNew.StatusCode);
        Assert.Equal("bob-new", backend.Requests.Last().Headers["X-Credential-Identifier"]);
        Assert.Equal(HttpStatusCode.BadRequest, eddsa.StatusCode);
        Assert.Contains("EdDSA is not supported", await eddsa.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(3, backend.Requests.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Jwt_and_key_auth_on_one_route_are_both_required_without_anonymous()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url, "- {name: key-auth, service: user-service}"), settings: AdminSettings());
        var token = Hmac(new JsonObject { ["iss"] = "alice-iss" });

        var jwtOnly = await gateway.Client.GetAsync("/api/users?jwt=" + token);
        var keyOnly = await gateway.Client.GetAsync("/api/users?apikey=alice-api-key-0001");
        var both = await gateway.Client.GetAsync($"/api/users?jwt={token}&apikey=alice-api-key-0001");

        Assert.Contains("No API key found", await Problem.AssertAsync(jwtOnly, HttpStatusCode.Unauthorized), StringComparison.Ordinal);
        Assert.Equal("Unauthorized", await Problem.AssertAsync(keyOnly, HttpStatusCode.Unauthorized));
        Assert.Equal(HttpStatusCode.OK, both.StatusCode);
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("alice", seen.Headers["X-Consumer-Username"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Jwt_and_key_auth_with_anonymous_are_alternatives()
    {
        await using var backend = await TestBackend.StartAsync();
        var extra = """
            - {name: key-auth, route: users-route, config: {anonymous: guest}}
            - {name: jwt, route: users-route, config: {anonymous: guest}}
            """;
        await using var gateway = await TestGateway.StartAsync(Seed(backend.Url, extra), settings: AdminSettings());
        var token = Hmac(new JsonObject { ["iss"] = "alice-iss" });

        var jwtOnly = await gateway.Client.GetAsync("/api/users?jwt=" + token);
        var keyOnly = await gateway.Client.GetAsync("/api/users?apikey=alice-api-key-0001");
        var neither = await gateway.Client.GetAsync("/api/users?jwt=bad.to.ken&apikey=wrong");

        Assert.Equal(HttpStatusCode.OK, jwtOnly.StatusCode);
        Assert.Equal(HttpStatusCode.OK, keyOnly.StatusCode);
        Assert.Equal(HttpStatusCode.OK, neither.StatusCode);
        var seen = backend.Requests.ToArray();
        Assert.Equal(("alice", "alice-iss"), (seen[0].Headers["X-Consumer-Username"], seen[0].Headers["X-Credential-Identifier"]));
        Assert.Equal("alice", seen[1].Headers["X-Consumer-Username"]);
        Assert.Matches("^[0-9a-f-]{36}$", seen[1].Headers["X-Credential-Identifier"]);
        Assert.Equal(("guest", "true"), (seen[2].Headers["X-Consumer-Username"], seen[2].Headers["X-Anonymous-Consumer"]));
    }

    private static JsonObject With(JsonObject claims, string name, JsonNode? value)
    {
        var copy = (JsonObject)claims.DeepClone();
        copy[name] = value;
        return copy;
    }

    private static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static string Sign(JsonObject claims, string alg, Func<byte[], byte[]> signer)
    {
        var input = B64(new JsonObject { ["typ"] = "JWT", ["alg"] = alg }.ToJsonString()) + "." + B64(claims.ToJsonString());
        return input + "." + Base64Url.EncodeToString(signer(Encoding.ASCII.GetBytes(input)));
    }

    private static string Unsigned(string alg, JsonObject claims) =>
        B64(new JsonObject { ["alg"] = alg }.ToJsonString()) + "." + B64(claims.ToJsonString()) + ".";

    private static string Hmac(JsonObject claims, string secret = AliceSecret) =>
        Sign(claims, "HS256", data => HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), data));

    private static string Rsa(JsonObject claims) =>
        Sign(claims, "RS256", data => AliceRsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    private static string Ecdsa(JsonObject claims) =>
        Sign(claims, "ES256", data => BobEc.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
}
