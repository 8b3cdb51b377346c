using System.Net;
using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;
using ServerlessGateway.Observability;
using ServerlessGateway.RequestGuards;

namespace ServerlessGateway.Tests.RequestGuards;

/// <summary>Import-time validation of correlation-id, ip-restriction and request-size-limiting: errors by name and path.</summary>
public sealed class RequestGuardConfigTests
{
    private static IReadOnlyList<ConfigIssue> Errors(string plugin, string pluginConfig) => KongDeclarativeParser.Parse($"""
        _format_version: "3.0"
        plugins:
        - name: {plugin}
          config: {pluginConfig}
        """).Errors;

    private static void AssertError(IReadOnlyList<ConfigIssue> errors, string field, string messagePart) =>
        PluginConfigAssert.Error(errors, field, messagePart);

    [Theory]
    [InlineData("correlation-id", "{}")]
    [InlineData("correlation-id", "{header_name: X-Correlation-ID, generator: \"uuid#counter\", echo_downstream: true}")]
    [InlineData("correlation-id", "{generator: tracker}")]
    [InlineData("ip-restriction", "{allow: [10.0.0.0/8, 192.168.1.7, \"2001:db8::/32\", \"::1\"], deny: [10.1.0.0/16], status: 401, message: go away}")]
    [InlineData("ip-restriction", "{deny: [\"fe80::/10\"]}")]
    [InlineData("request-size-limiting", "{}")]
    [InlineData("request-size-limiting", "{allowed_payload_size: 10, size_unit: kilobytes, require_content_length: true}")]
    public void Valid_configs_import(string plugin, string config) => Assert.Empty(Errors(plugin, config));

    [Fact]
    public void Correlation_id_rejects_an_unknown_generator_a_bad_header_name_and_unknown_fields()
    {
        var errors = Errors("correlation-id", "{generator: uuid4, header_name: \"X Bad\", trace: true}");

        AssertError(errors, "generator", "uuid#counter");
        AssertError(errors, "header_name", "not a valid header name");
        Assert.Contains(errors, e => e.Path == "plugins[0].config.trace");
    }

    [Fact]
    public void Ip_restriction_rejects_bad_addresses_by_index_and_needs_a_list()
    {
        var errors = Errors("ip-restriction", "{allow: [10.0.0.0/8, 10.0.0.0/33, not-an-ip], deny: [\"2001:db8::/129\"]}");
        var empty = Errors("ip-restriction", "{status: 403}");

        AssertError(errors, "allow[1]", "10.0.0.0/33");
        AssertError(errors, "allow[2]", "not-an-ip");
        AssertError(errors, "deny[0]", "2001:db8::/129");
        Assert.DoesNotContain(errors, e => e.Path == "plugins[0].config.allow[0]");
        AssertError(empty, "allow", "at least one");
    }

    [Fact]
    public void Request_size_limiting_rejects_a_bad_unit_and_a_non_positive_size()
    {
        var errors = Errors("request-size-limiting", "{size_unit: gigabytes, allowed_payload_size: 0}");

        AssertError(errors, "size_unit", "megabytes, kilobytes, bytes");
        AssertError(errors, "allowed_payload_size", "between");
    }

    [Theory]
    [InlineData("10.1.2.3/8", "10.200.0.1", true)]
    [InlineData("10.1.2.3/8", "11.0.0.1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1", true)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    public void Networks_mask_host_bits_and_match(string cidr, string address, bool contains)
    {
        Assert.True(IpRestrictionPlugin.TryParseNetwork(cidr, out var network));
        Assert.Equal(contains, network.Contains(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("abc-123", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("caf\u00e9", false)]
    public void Correlation_ids_must_be_visible_ascii(string id, bool valid) =>
        Assert.Equal(valid, CorrelationIdPlugin.IsValid(id));
}
