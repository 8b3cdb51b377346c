using ServerlessGateway.GrpcGateway;

namespace ServerlessGateway.Tests.GrpcGateway;

/// <summary>google.api.http path templates (google/api/http.proto): parsing and matching canonical paths.</summary>
public sealed class PathTemplateTests
{
    [Theory]
    [InlineData("/v1/things", "/v1/things", "")]
    [InlineData("/v1/{name}", "/v1/abc", "abc")]
    [InlineData("/v1/{name=things/*}", "/v1/things/abc", "things/abc")]
    [InlineData("/v1/{name=things/*}/parts/{part.id}", "/v1/things/a/parts/7", "things/a|7")]
    [InlineData("/v1/{name=**}", "/v1/a/b/c", "a/b/c")]
    [InlineData("/v1/{name=**}", "/v1", "")]
    [InlineData("/v1/{name=shelves/*/books/**}", "/v1/shelves/s/books/x/y", "shelves/s/books/x/y")]
    [InlineData("/v1/*/{id}", "/v1/anything/5", "5")]
    [InlineData("/v1/{name=things/*}:cancel", "/v1/things/abc:cancel", "things/abc")]
    [InlineData("/v1/things:search", "/v1/things:search", "")]
    [InlineData("/v1/{name}", "/v1/a%20b", "a b")]
    [InlineData("/v1/{name}", "/v1/a:b", "a:b")]
    public void Matching_paths_bind_their_variables(string template, string path, string expected)
    {
        var parsed = PathTemplate.Parse(template, out var error);
        Assert.Null(error);
        var values = new string[parsed!.Variables.Length];

        Assert.True(parsed.TryMatch(path, values));
        Assert.Equal(expected, string.Join('|', values));
    }

    [Theory]
    [InlineData("/v1/things", "/v1/things/x")]
    [InlineData("/v1/things", "/v1/thing")]
    [InlineData("/v1/{name=things/*}", "/v1/things")]
    [InlineData("/v1/{name=things/*}", "/v1/things/a/b")]
    [InlineData("/v1/{name=things/*}", "/v1/other/a")]
    [InlineData("/v1/{name}", "/v1/")]
    [InlineData("/v1/{name=things/*}:cancel", "/v1/things/abc")]
    [InlineData("/v1/{name=things/*}:cancel", "/v1/things/abc:undo")]
    [InlineData("/v1/things", "/v1/things:search")]
    public void Other_paths_do_not_match(string template, string path)
    {
        var parsed = PathTemplate.Parse(template, out _)!;

        Assert.False(parsed.TryMatch(path, new string[parsed.Variables.Length]));
    }

    [Theory]
    [InlineData("v1/things", "must start with '/'")]
    [InlineData("/v1/{name", "unclosed")]
    [InlineData("/v1/{na-me}", "invalid field path")]
    [InlineData("/v1//things", "empty segment")]
    [InlineData("/v1/**/things", "'**' only as its last segment")]
    [InlineData("/v1/things:", "empty verb")]
    [InlineData("/v1/{name}x", "after a '}'")]
    public void Invalid_templates_are_rejected_with_a_reason(string template, string reason)
    {
        Assert.Null(PathTemplate.Parse(template, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
