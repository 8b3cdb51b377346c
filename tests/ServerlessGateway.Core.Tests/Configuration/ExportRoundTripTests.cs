using System.Text.Json;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Configuration;

public sealed class ExportRoundTripTests
{
    private static string Canonical(GatewayConfig config) => JsonSerializer.Serialize(config);

    private const string Rich = """
        _format_version: "3.0"
        services:
        - name: users
          url: https://users.internal:8443/v1/
          connect_timeout: 1500
          read_timeout: 2500
          write_timeout: 3500
          retries: 2
          circuit_breaker: {failure_ratio: 0.25, minimum_throughput: 4, sampling_duration: 10, break_duration: 3, failure_statuses: [500, 429]}
          tags: [team-a, "needs: quoting"]
          routes:
          - name: users-route
            paths: [/api/users, "~/api/u/(?<id>\\d+)$"]
            methods: [GET, POST]
            hosts: [api.example.com, "*.example.org", "example.*:8080"]
            headers: {x-version: [v1, "~*^v2"]}
            strip_path: false
            preserve_host: true
            path_handling: v1
            regex_priority: -3
            request_buffering: false
        - name: disabled
          host: disabled.internal
          enabled: false
        routes:
        - name: lonely
          paths: ["/lonely path?"]
        upstreams:
        - name: pool
          host_header: pool.example.com
          healthchecks:
            active: {type: https, http_path: /healthz, timeout: 0.5, concurrency: 2, healthy: {interval: 2.5, successes: 2, http_statuses: [200]}, unhealthy: {interval: 1, http_failures: 3, tcp_failures: 1, timeouts: 2, http_statuses: [500]}}
            passive: {healthy: {successes: 5}, unhealthy: {http_failures: 4, tcp_failures: 2, timeouts: 3, http_statuses: [502]}}
          targets:
          - target: 10.0.0.1
          - target: "[::1]:9000"
            weight: 0
        consumers:
        - username: alice
          custom_id: "a-1"
          jwt_secrets: [{key: alice-iss, algorithm: RS256, rsa_public_key: "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqHh3hmexgBVaE9SgOlbA\niAGTXOu65skOckTLC63/WtHtA4HQ10UENeax3QR6gvbt0DLub1NcF6L0qUsZX65r\ndoq4Xjcafgt09EGF0CRE6biEID4YrKJb4MjMKb/Ltxjb9EcrceCwLlQLakhfIi5W\nLbQ5/1En1DuRyALTrkq24n6rL8Qah0De33XE0l62VD6m6alnMzSxiPgzc0JeEPOO\njPr6HkfYc4cEDGI+pJPWOa9qqsEyFJnJn4DFgcVEwviZwFj24dRvn6lNXn339SHo\noYGDyc8V+NOu+IK5ffLcGTXDoIurqIKQ2qKV7h/MIQasLqHnBnUMA4kISnnDYyh7\nEQIDAQAB\n-----END PUBLIC KEY-----\n"}]
          acls: [{group: admins}]
        - custom_id: only-custom
        """;

    [Fact]
    public void Export_then_import_gives_the_same_config()
    {
        var result = KongDeclarativeParser.Parse(Rich.Replace("\"/lonely path?\"", "/lonely", StringComparison.Ordinal));
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var original = result.Config!;

        var yaml = KongDeclarativeExporter.ToYaml(original);
        var fromYaml = ParserTests.ParseValid(yaml);
        var fromJson = ParserTests.ParseValid(KongDeclarativeExporter.ToJson(original));

        Assert.Equal(Canonical(original), Canonical(fromYaml));
        Assert.Equal(Canonical(original), Canonical(fromJson));
        Assert.Equal(yaml, KongDeclarativeExporter.ToYaml(fromYaml));
    }

    [Fact]
    public void Deck_dump_round_trips()
    {
        var original = ParserTests.ParseValid(ParserTests.WithoutKeyAuthPlugin(ParserTests.Example("deck-dump.yaml")));

        var again = ParserTests.ParseValid(KongDeclarativeExporter.ToYaml(original));

        Assert.Equal(Canonical(original), Canonical(again));
        Assert.Equal(2, again.Upstreams[0].Targets.Count);
    }

    [Fact]
    public void Plugins_of_every_scope_round_trip_through_a_parsed_tree()
    {
        // No plugin is built yet, so this checks the exporter's placement on a model made directly.
        var config = new GatewayConfig
        {
            Services = [new ServiceConfig { Id = EntityIds.Derive("service", "s"), Name = "s", Host = "s.internal" }],
            Routes = [new RouteConfig { Id = EntityIds.Derive("route", "r"), Name = "r", Service = "s", Paths = ["/r"] }],
            Consumers = [new ConsumerConfig { Id = EntityIds.Derive("consumer", "c"), Username = "c" }],
            Plugins =
            [
                new PluginConfig { Id = EntityIds.Derive("plugin", "1"), Name = "cors" },
                new PluginConfig { Id = EntityIds.Derive("plugin", "2"), Name = "cors", Service = "s" },
                new PluginConfig { Id = EntityIds.Derive("plugin", "3"), Name = "cors", Route = "r" },
                new PluginConfig { Id = EntityIds.Derive("plugin", "4"), Name = "cors", Consumer = "c" },
                new PluginConfig { Id = EntityIds.Derive("plugin", "5"), Name = "cors", Route = "r", Consumer = "c", Config = new() { ["origins"] = "*" } },
            ],
        };

        var tree = KongDeclarativeExporter.ToTree(config);

        Assert.Equal(2, tree["plugins"]!.AsArray().Count);
        Assert.Single(tree["services"]![0]!["plugins"]!.AsArray());
        Assert.Single(tree["services"]![0]!["routes"]![0]!["plugins"]!.AsArray());
        Assert.Single(tree["consumers"]![0]!["plugins"]!.AsArray());
        Assert.Equal("*", tree["plugins"]![1]!["config"]!["origins"]!.GetValue<string>());
    }
}
