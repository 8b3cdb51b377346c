using ServerlessGateway.Configuration;
using ServerlessGateway.Transforms;

namespace ServerlessGateway.Tests.Transforms;

/// <summary>request-transformer import: Kong's fields, templates compiled once, invalid values rejected with their path.</summary>
public sealed class RequestTransformerConfigTests
{
    private static string Yaml(string pluginConfig) => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: http://127.0.0.1:1
          routes:
          - name: r
            paths: [/api]
          plugins:
          - name: request-transformer
            config: {{pluginConfig}}
        """;

    private static void AssertRejected(string pluginConfig, string field, string messagePart)
    {
        var result = KongDeclarativeParser.Parse(Yaml(pluginConfig));
        var path = "services[0].plugins[0].config." + field;
        Assert.False(result.IsValid);
        Assert.True(result.Errors.Any(e => e.Path == path && e.Message.Contains(messagePart, StringComparison.Ordinal)),
            $"expected an error at {path} containing '{messagePart}', got:\n{string.Join("\n", result.Errors)}");
    }

    [Fact]
    public void Every_supported_field_imports()
    {
        var result = KongDeclarativeParser.Parse(Yaml("""{http_method: PUT, remove: {headers: [a], querystring: [b], body: [c]}, rename: {headers: ["a:b"], querystring: ["c:d"]}, replace: {uri: "/x/$(uri_captures[1])", headers: ["a:$(headers.b)"], querystring: ["q:$(query_params.z)"], json_types: []}, add: {headers: ["x:$(uuid) $(consumer.id) $(consumer.username) $(claims.sub) $(route.name) $(service.name)"]}, append: {headers: ["y:1"]}}"""));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Theory]
    [InlineData("""{add: {headers: ["x:$(os.getenv('HOME'))"]}}""", "add.headers", "unsupported template expression")]
    [InlineData("""{append: {headers: ["x:$(headers.a"]}}""", "append.headers", "unterminated")]
    [InlineData("""{replace: {querystring: ["x:$(consumer.secret)"]}}""", "replace.querystring", "unsupported template expression")]
    [InlineData("""{add: {headers: ["x:a\u0001b"]}}""", "add.headers", "cannot carry")]
    [InlineData("""{add: {headers: ["bad name:v"]}}""", "add.headers", "not a valid header name")]
    [InlineData("""{add: {headers: ["novalue"]}}""", "add.headers", "not 'name:value'")]
    [InlineData("""{rename: {headers: ["only"]}}""", "rename.headers", "not 'old:new'")]
    [InlineData("""{add: {headers: ["host:evil"]}}""", "add.headers", "Host header")]
    [InlineData("""{add: {json_types: [number]}}""", "add.json_types", "not supported")]
    [InlineData("""{remove: {body: [""]}}""", "remove.body", "empty parameter name")]
    [InlineData("""{replace: {uri: "relative"}}""", "replace.uri", "absolute path")]
    [InlineData("""{replace: {uri: "/$(nope)"}}""", "replace.uri", "unsupported template expression")]
    [InlineData("""{http_method: get}""", "http_method", "not an HTTP method")]
    [InlineData("""{add: {cookies: []}}""", "add.cookies", "unknown field")]
    [InlineData("""{bogus: 1}""", "bogus", "unknown field")]
    public void Invalid_config_is_rejected_with_its_path(string pluginConfig, string field, string messagePart) =>
        AssertRejected(pluginConfig, field, messagePart);

    [Fact]
    public void A_static_value_with_CR_LF_is_rejected_at_import()
    {
        // YAML's double-quoted escapes give a real CR LF inside the value.
        AssertRejected("{add: {headers: [\"x:a\\r\\nInjected: 1\"]}}", "add.headers", "CR, LF");
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("", "")]
    [InlineData("a:b:c", "a:b:c")]
    public void A_value_without_expressions_compiles_to_a_literal(string source, string literal)
    {
        var template = TransformTemplate.Compile(source, out var error);

        Assert.Null(error);
        Assert.Equal(literal, template!.Literal);
    }

    [Theory]
    [InlineData("$(headers.x)")]
    [InlineData("$(headers[\"x-y\"])")]
    [InlineData("pre $(query_params['q']) post")]
    [InlineData("$(uri_captures[0])$(uri_captures.name)")]
    [InlineData("$( uuid )")]
    public void Kong_expressions_compile_to_templates(string source)
    {
        var template = TransformTemplate.Compile(source, out var error);

        Assert.Null(error);
        Assert.Null(template!.Literal);
    }
}
