using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>Import-time validation of rate-limiting (Kong 3.x schema): errors by field, Redis settings dropped with a warning.</summary>
public sealed class RateLimitConfigTests
{
    private static ConfigLoadResult Parse(string pluginConfig) => KongDeclarativeParser.Parse($"""
        _format_version: "3.0"
        plugins:
        - name: rate-limiting
          config: {pluginConfig}
        """);

    [Theory]
    [InlineData("{minute: 1000}")]
    [InlineData("{minute: 1000, policy: redis}")]
    [InlineData("{second: 5, minute: 100, hour: 1000, day: 10000, month: 100000, year: 1000000}")]
    [InlineData("{minute: 10.0, limit_by: credential, policy: cluster, sync_rate: 0.5}")]
    [InlineData("{hour: 10, limit_by: header, header_name: X-Tenant, policy: distributed, window_type: sliding}")]
    [InlineData("{day: 10, limit_by: path, path: /api/users, policy: strict, fault_tolerant: false}")]
    [InlineData("{minute: 10, limit_by: service, hide_client_headers: true, error_code: 403, error_message: no, sync_rate: -1}")]
    public void Valid_configs_import(string config) => Assert.Empty(Parse(config).Errors);

    [Fact]
    public void At_least_one_period_is_required()
    {
        var errors = Parse("{policy: local}").Errors;

        PluginConfigAssert.Error(errors, "minute", "at least one of 'second', 'minute'");
    }

    [Fact]
    public void A_longer_period_may_not_have_a_lower_limit()
    {
        var errors = Parse("{second: 10, minute: 5, hour: 100}").Errors;

        PluginConfigAssert.Error(errors, "minute", "cannot be lower than the limit for second");
        Assert.DoesNotContain(errors, e => e.Path.EndsWith(".hour", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{minute: 0}", "minute", "greater than 0")]
    [InlineData("{minute: -5}", "minute", "greater than 0")]
    [InlineData("{minute: 1.5}", "minute", "whole number")]
    [InlineData("{minute: \"100\"}", "minute", "whole number")]
    [InlineData("{minute: 1, limit_by: user}", "limit_by", "consumer, credential, ip, service, header, path")]
    [InlineData("{minute: 1, limit_by: header}", "header_name", "required when limit_by is 'header'")]
    [InlineData("{minute: 1, limit_by: header, header_name: \"X Bad\"}", "header_name", "not a valid header name")]
    [InlineData("{minute: 1, limit_by: path}", "path", "required when limit_by is 'path'")]
    [InlineData("{minute: 1, limit_by: path, path: api}", "path", "must start with '/'")]
    [InlineData("{minute: 1, policy: memcached}", "policy", "local, cluster, redis, distributed, strict")]
    [InlineData("{minute: 1, sync_rate: 1}", "sync_rate", "distributed policies only")]
    [InlineData("{minute: 1, policy: redis, sync_rate: 0.01}", "sync_rate", "between 0.02 and 3600")]
    [InlineData("{minute: 1, policy: redis, sync_rate: fast}", "sync_rate", "expected a number")]
    [InlineData("{minute: 1, window_type: rolling}", "window_type", "fixed, sliding")]
    [InlineData("{minute: 1, policy: strict, window_type: sliding}", "window_type", "not available with policy 'strict'")]
    [InlineData("{minute: 1, error_code: 99}", "error_code", "between 100 and 599")]
    [InlineData("{minute: 1, fault_tolerant: maybe}", "fault_tolerant", "expected a boolean")]
    [InlineData("{minute: 1, limits: 3}", "limits", "unknown field")]
    public void Invalid_fields_are_named(string config, string field, string message) =>
        PluginConfigAssert.Error(Parse(config).Errors, field, message);

    [Fact]
    public void Redis_settings_import_with_a_warning_and_are_not_stored_or_exported()
    {
        // Arrange
        var result = Parse("{minute: 10, policy: redis, redis: {host: cache, port: 6379, password: hunter2}, redis_password: hunter3, redis_host: cache}");

        // Act
        var stored = result.Config!.Plugins.Single().Config;
        var exported = KongDeclarativeExporter.ToJson(result.Config);

        // Assert
        Assert.Empty(result.Errors);
        Assert.Equal(3, result.Warnings.Count(w => w.Path.StartsWith("plugins[0].config.redis", StringComparison.Ordinal) && w.Message.Contains("ignored", StringComparison.Ordinal)));
        Assert.False(stored.ContainsKey("redis"));
        Assert.False(stored.ContainsKey("redis_password"));
        Assert.Equal("redis", (string?)stored["policy"]);
        Assert.DoesNotContain("hunter", exported, StringComparison.Ordinal);
        Assert.Contains("rate-limiting", exported, StringComparison.Ordinal);
        Assert.Empty(KongDeclarativeParser.Parse(exported).Warnings);
    }
}
