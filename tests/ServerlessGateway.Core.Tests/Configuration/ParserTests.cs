using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Configuration;

public sealed class ParserTests
{
    internal static string Example(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", name));

    internal static GatewayConfig ParseValid(string yaml)
    {
        var result = KongDeclarativeParser.Parse(yaml);
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return result.Config!;
    }

    internal static IReadOnlyList<ConfigIssue> Errors(string yaml)
    {
        var result = KongDeclarativeParser.Parse(yaml);
        Assert.False(result.IsValid);
        Assert.Null(result.Config);
        return result.Errors;
    }

    internal static void AssertError(IReadOnlyList<ConfigIssue> errors, string path, string messagePart) =>
        Assert.True(errors.Any(e => e.Path == path && e.Message.Contains(messagePart, StringComparison.Ordinal)),
            $"expected an error at {path} containing '{messagePart}', got:\n{string.Join("\n", errors)}");

    [Fact]
    public void Seed_with_plugins_imports_unchanged()
    {
        var result = KongDeclarativeParser.Parse(Example("seed-kong.yaml"));

        Assert.Empty(result.Errors);
        Assert.Empty(result.Warnings);
        Assert.Equal(["jwt", "rate-limiting", "jwt", "request-transformer"], result.Config!.Plugins.Select(p => p.Name));
    }

    [Fact]
    public void Seed_without_plugins_parses_into_services_and_routes()
    {
        var yaml = string.Join("\n", Example("seed-kong.yaml").Split('\n').TakeWhile(l => !l.StartsWith("  plugins:", StringComparison.Ordinal)))
            + "\n- name: order-service\n  url: http://order-service:3002\n  routes:\n  - name: orders-route\n    paths: [/api/orders]\n";

        var config = ParseValid(yaml);

        Assert.Equal(["user-service", "order-service"], config.Services.Select(s => s.Name));
        var users = config.Services[0];
        Assert.Equal(("http", "user-service", 3001, (string?)null), (users.Protocol, users.Host, users.Port, users.Path));
        var route = config.Routes.Single(r => r.Name == "users-route");
        Assert.Equal("user-service", route.Service);
        Assert.Equal(["GET", "POST"], route.Methods);
        Assert.Equal(["/api/users"], route.Paths);
        Assert.True(route.StripPath);
    }

    [Fact]
    public void Deck_dump_imports_once_key_auth_is_left_out()
    {
        var yaml = WithoutKeyAuthPlugin(Example("deck-dump.yaml"));

        var config = ParseValid(yaml);

        var users = config.Services.Single(s => s.Name == "user-service");
        Assert.Equal(("http", "users.internal", 8080, "/v1"), (users.Protocol, users.Host, users.Port, users.Path));
        Assert.Equal(["team-users"], users.Tags);
        var byId = config.Routes.Single(r => r.Name == "users-by-id");
        Assert.Equal(10, byId.RegexPriority);
        Assert.False(byId.StripPath);
        var orders = config.Routes.Single(r => r.Name == "orders-route");
        Assert.True(orders.PreserveHost);
        Assert.Equal(["api.example.com", "*.example.org"], orders.Hosts);
        var upstream = config.Upstreams.Single();
        Assert.Equal([("orders-a.internal:3002", 100), ("orders-b.internal:3002", 50)], upstream.Targets.Select(t => (t.Target, t.Weight)));
        Assert.Equal("alice-key-0001", config.Consumers.Single().KeyAuthCredentials.Single().Key);
    }

    [Fact]
    public void Deck_dump_imports_whole_with_its_key_auth_plugin_at_Kongs_defaults()
    {
        var config = ParseValid(Example("deck-dump.yaml"));

        var plugin = Assert.Single(config.Plugins);
        Assert.Equal(("key-auth", "user-service"), (plugin.Name, plugin.Service));
    }

    [Fact]
    public void Plugin_configs_are_validated_with_paths_and_auth_plugins_cannot_be_consumer_scoped()
    {
        const string yaml = """
            _format_version: "3.0"
            consumers:
            - username: alice
            plugins:
            - name: key-auth
              consumer: alice
              config: {key_names: [], key_in_body: true, anonymous: nobody, bogus: 1}
            - name: acl
              config: {hide_groups_header: "yes"}
            """;

        var errors = Errors(yaml);

        AssertError(errors, "plugins[0].consumer", "cannot be scoped");
        AssertError(errors, "plugins[0].config.key_names", "at least one key name");
        AssertError(errors, "plugins[0].config.key_in_body", "only Kong's default false");
        AssertError(errors, "plugins[0].config.anonymous", "no consumer 'nobody'");
        AssertError(errors, "plugins[0].config.bogus", "unknown field");
        AssertError(errors, "plugins[1].config.allow", "exactly one of 'allow' or 'deny'");
        AssertError(errors, "plugins[1].config.hide_groups_header", "expected a boolean");
    }

    internal static string WithoutKeyAuthPlugin(string yaml)
    {
        var lines = yaml.Split('\n').ToList();
        var start = lines.FindIndex(l => l == "  plugins:");
        var end = lines.FindIndex(start, l => l.StartsWith("- connect_timeout", StringComparison.Ordinal));
        lines.RemoveRange(start, end - start);
        return string.Join("\n", lines);
    }

    [Fact]
    public void Every_error_is_reported_at_once_with_its_path()
    {
        const string yaml = """
            _format_version: "3.0"
            services:
            - name: a
              url: ftp://a.internal
              retries: many
              bogus: 1
              routes:
              - name: r1
                paths: [/ok, relative, "~/x(", /_gateway/steal]
                methods: [get]
                path_handling: v9
            - name: a
              host: b.internal
              connect_timeout: 0
            routes:
            - name: r1
              service: missing
              hosts: ["*.*.example.com"]
            plugins:
            - name: no-such-plugin
              route: nowhere
            """;

        var errors = Errors(yaml);

        AssertError(errors, "services[0].url", "expected an absolute http, https, grpc or grpcs URL");
        AssertError(errors, "services[0].retries", "expected an integer");
        AssertError(errors, "services[0].bogus", "unknown field");
        AssertError(errors, "services[0].routes[0].paths[1]", "should start with: /");
        AssertError(errors, "services[0].routes[0].paths[2]", "invalid regex");
        AssertError(errors, "services[0].routes[0].paths[3]", "may not claim /_gateway");
        AssertError(errors, "services[0].routes[0].methods[0]", "upper-case");
        AssertError(errors, "services[0].routes[0].path_handling", "expected one of: v0, v1");
        AssertError(errors, "services[1].name", "duplicate service name 'a'");
        AssertError(errors, "services[1].connect_timeout", "between 1 and");
        AssertError(errors, "routes[0].name", "duplicate route name 'r1'");
        AssertError(errors, "routes[0].service", "no service named 'missing'");
        AssertError(errors, "routes[0].hosts[0]", "invalid host");
        AssertError(errors, "plugins[0].name", "unknown plugin 'no-such-plugin'");
        AssertError(errors, "plugins[0].route", "no route named 'nowhere'");
    }

    [Theory]
    [InlineData("services: [", "malformed document")]
    [InlineData("{\"_format_version\": \"3.0\", \"services\": [}", "malformed document")]
    [InlineData("{\"_format_version\": \"3.0\", \"services\": [], \"services\": []}", "malformed document")]
    [InlineData("services:\n- name: a\n  name: b\n", "malformed document")]
    // Found by KongDeclarativeParserProperties: YamlDotNet throws these as InvalidOperationException and
    // ArgumentException, System.Text.Json an escaped lone surrogate as InvalidOperationException.
    [InlineData("...\n<<: *a&a x&a ", "malformed document")]
    [InlineData("\t: x]\n  &a '!!map y|\n  ", "malformed document")]
    [InlineData("{\"_format_version\": \"3.0\", \"services\": [{\"name\": \"\\ud800\"}]}", "malformed document")]
    [InlineData("", "the document is empty")]
    [InlineData("- a\n- b\n", "expected an object")]
    [InlineData("_format_version: \"2.1\"\n", "expected \"3.0\"")]
    [InlineData("services: []\n", "_format_version")]
    public void Malformed_or_misshapen_documents_are_rejected_with_a_reason(string text, string messagePart)
    {
        var errors = Errors(text);

        Assert.Contains(errors, e => e.ToString().Contains(messagePart, StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)] // without the node budget this expands 10^9 nodes: the timeout turns that into a failure
    public async Task Nested_yaml_aliases_that_expand_into_billions_of_nodes_are_refused()
    {
        // "Billion laughs": each level names the previous one ten times, 10^9 scalars from about 600 characters.
        var yaml = new System.Text.StringBuilder("_format_version: \"3.0\"\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var level = 1; level <= 9; level++)
        {
            var previous = $"*l{level - 1}";
            yaml.Append($"l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat(previous, 10))}]\n");
        }

        var errors = await Task.Run(() => Errors(yaml.ToString()));

        Assert.Contains(errors, e => e.Message.Contains("too many nodes", StringComparison.Ordinal));
    }

    [Fact]
    public void A_json_document_holding_a_lone_surrogate_is_malformed()
    {
        // Built here: theory data would lose the lone surrogate on its way to the test. Found by KongDeclarativeParserProperties.
        var errors = Errors("{\"_format_version\": \"3.0\", \"services\": [{\"name\": \"" + '\ud800' + "\"}]}");

        Assert.Contains(errors, e => e.Message.StartsWith("malformed document", StringComparison.Ordinal));
    }

    [Fact]
    public void Kong_default_values_of_unimplemented_fields_are_accepted_and_others_rejected_by_name()
    {
        const string yaml = """
            _format_version: "3.0"
            services:
            - name: s
              host: s.internal
              tls_verify: null
              routes:
              - name: ok
                paths: [/ok]
                protocols: [https, http]
                https_redirect_status_code: 426
                snis: []
              - name: bad
                paths: [/bad]
                protocols: [https]
                https_redirect_status_code: 301
            upstreams:
            - name: u
              hash_on: none
              healthchecks: {active: {http_path: /, healthy: {interval: 0}}, threshold: 0}
            - name: v
              algorithm: consistent-hashing
              hash_on: header
              healthchecks: {active: {healthy: {interval: 5}, https_sni: other.example}}
            """;

        var errors = Errors(yaml);

        AssertError(errors, "services[0].routes[1].protocols", "only Kong's default [\"http\",\"https\"]");
        AssertError(errors, "services[0].routes[1].https_redirect_status_code", "only Kong's default 426");
        AssertError(errors, "upstreams[1].algorithm", "only Kong's default \"round-robin\"");
        AssertError(errors, "upstreams[1].hash_on", "not supported");
        AssertError(errors, "upstreams[1].healthchecks.active.https_sni", "not supported");
        Assert.Equal(5, errors.Count);
    }

    [Fact]
    public void Json_input_parses_like_yaml()
    {
        const string json = """
            {"_format_version": "3.0",
             "services": [{"name": "s", "url": "https://s.internal:8443/base",
                           "routes": [{"name": "r", "paths": ["/s"], "headers": {"x-version": ["v1", "v2"]}}]}]}
            """;

        var config = ParseValid(json);

        var service = config.Services.Single();
        Assert.Equal(("https", "s.internal", 8443, "/base"), (service.Protocol, service.Host, service.Port, service.Path));
        Assert.Equal(["v1", "v2"], config.Routes.Single().Headers["X-Version"]);
    }

    [Fact]
    public void Quoted_numbers_are_strings_and_rejected_where_integers_are_expected()
    {
        var errors = Errors("_format_version: \"3.0\"\nservices:\n- name: s\n  host: s\n  port: \"80\"\n");

        AssertError(errors, "services[0].port", "expected an integer, got a string");
    }

    [Theory]
    [InlineData("~/(a+)+$")]
    [InlineData("~/(a|aa)+$")]
    [InlineData("~/([0-9]+)*x")]
    public void Catastrophic_regexes_are_rejected(string path)
    {
        var errors = Errors($"_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [\"{path}\"]\n");

        AssertError(errors, "routes[0].paths[0]", "backtracks catastrophically");
    }

    [Fact]
    public void Route_under_admin_imports_with_a_warning()
    {
        var result = KongDeclarativeParser.Parse("_format_version: \"3.0\"\nroutes:\n- name: r\n  paths: [/admin/x]\n");

        Assert.True(result.IsValid);
        Assert.Contains(result.Warnings, w => w.Path == "routes[0].paths[0]" && w.Message.Contains("reserves /admin", StringComparison.Ordinal));
    }

    [Fact]
    public void Ids_are_derived_deterministically_when_absent_and_kept_when_given()
    {
        const string yaml = "_format_version: \"3.0\"\nservices:\n- name: s\n  host: s\n- name: t\n  host: t\n  id: 3F2504E0-4F89-11D3-9A0C-0305E82C3301\n";

        var first = ParseValid(yaml);
        var second = ParseValid(yaml);

        Assert.Equal(first.Services[0].Id, second.Services[0].Id);
        Assert.NotEqual(first.Services[0].Id, EntityIds.Derive("service", "t"));
        Assert.Equal("3f2504e0-4f89-11d3-9a0c-0305e82c3301", first.Services[1].Id);
    }

    [Fact]
    public void Duplicate_key_auth_keys_are_reported_without_echoing_the_key()
    {
        const string yaml = """
            _format_version: "3.0"
            consumers:
            - username: a
              keyauth_credentials: [{key: s3cret-value}]
            - username: b
              keyauth_credentials: [{key: s3cret-value}]
            """;

        var errors = Errors(yaml);

        AssertError(errors, "consumers[1].keyauth_credentials[0].key", "duplicate key");
        Assert.DoesNotContain(errors, e => e.ToString().Contains("s3cret-value", StringComparison.Ordinal));
    }
}
