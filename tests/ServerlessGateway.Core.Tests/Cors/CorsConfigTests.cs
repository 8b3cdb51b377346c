using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;
using ServerlessGateway.Cors;

namespace ServerlessGateway.Tests.Cors;

/// <summary>Import-time validation of Kong's cors plugin: every error by name and path, Kong's defaults accepted.</summary>
public sealed class CorsConfigTests
{
    private static string Config(string pluginConfig) => $"""
        _format_version: "3.0"
        plugins:
        - name: cors
          config:
        {string.Join("\n", pluginConfig.Split('\n').Select(l => "    " + l))}
        """;

    private static IReadOnlyList<ConfigIssue> Errors(string pluginConfig) => KongDeclarativeParser.Parse(Config(pluginConfig)).Errors;

    private static void AssertError(IReadOnlyList<ConfigIssue> errors, string field, string messagePart) =>
        PluginConfigAssert.Error(errors, field, messagePart);

    [Fact]
    public void Every_Kong_field_with_its_default_or_a_real_value_imports()
    {
        var errors = Errors("""
            origins: ["https://app.example.com", "http://localhost:3000", "https://.*\\.example\\.org", "*"]
            methods: [GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT]
            headers: [Authorization, Content-Type]
            exposed_headers: [X-Request-Id]
            credentials: true
            max_age: 3600
            preflight_continue: false
            private_network: false
            allow_origin_absent: true
            """);

        Assert.Empty(errors);
    }

    [Fact]
    public void An_empty_config_imports_with_Kongs_defaults()
    {
        Assert.Empty(Errors("{}"));
    }

    [Fact]
    public void An_invalid_origin_regex_is_rejected_with_its_index()
    {
        var errors = Errors("""
            origins: ["https://ok.example.com", "https://(unclosed.example.com"]
            """);

        AssertError(errors, "origins[1]", "is not a valid regex");
        Assert.Single(errors);
    }

    [Fact]
    public void A_catastrophically_backtracking_origin_regex_is_rejected()
    {
        var errors = Errors("""
            origins: ["(a+)+b"]
            """);

        AssertError(errors, "origins[0]", "backtracks catastrophically");
    }

    [Fact]
    public void Methods_outside_Kongs_set_unknown_fields_and_private_network_are_rejected_by_name()
    {
        var errors = Errors("""
            methods: [GET, FETCH]
            private_network: true
            max_age: -1
            headers: ["X-Bad\u0001"]
            origin: "*"
            """);

        AssertError(errors, "methods", "'FETCH' is not one of");
        AssertError(errors, "private_network", "only Kong's default false");
        AssertError(errors, "max_age", "between 0");
        AssertError(errors, "headers", "not a valid header name");
        AssertError(errors, "origin", "unknown field");
    }

    [Fact]
    public void Cors_cannot_be_scoped_to_a_consumer_as_in_Kong()
    {
        var errors = KongDeclarativeParser.Parse("""
            _format_version: "3.0"
            consumers:
            - username: alice
            plugins:
            - name: cors
              consumer: alice
            """).Errors;

        Assert.Contains(errors, e => e.Path == "plugins[0].consumer" && e.Message.Contains("cannot be scoped to a consumer", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https://example.com:443", "https://example.com")]
    [InlineData("http://example.com:80", "http://example.com")]
    [InlineData("http://example.com:8080", "http://example.com:8080")]
    [InlineData("https://example.com:80", "https://example.com:80")]
    [InlineData("null", "null")]
    public void Origins_are_normalized_as_Kong_does(string origin, string expected)
    {
        Assert.Equal(expected, CorsPlugin.Normalize(origin));
    }

    [Theory]
    [InlineData("https://example.com", true)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("https://.*\\.example\\.com", false)]
    [InlineData("(.*)example.com", false)]
    public void Entries_with_only_letters_digits_and_dot_colon_slash_dash_are_plain_origins(string entry, bool plain)
    {
        Assert.Equal(plain, CorsPlugin.IsPlainOrigin(entry));
    }
}
