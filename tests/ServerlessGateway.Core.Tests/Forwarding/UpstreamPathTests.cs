using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Tests.Forwarding;

/// <summary>
/// Kong's documented strip_path x path_handling table
/// (https://docs.konghq.com/gateway/latest/reference/proxy/ and the admin API's path_handling notes)
/// plus the edge cases of kong/router/utils.lua.
/// </summary>
public sealed class UpstreamPathTests
{
    [Theory]
    // service.path, route path, request, strip_path, path_handling -> upstream path
    [InlineData("/s", "/fv0", "/fv0req", false, "v0", "/s/fv0req")]
    [InlineData("/s", "/fv1", "/fv1req", false, "v1", "/sfv1req")]
    [InlineData("/s", "/tv0", "/tv0req", true, "v0", "/s/req")]
    [InlineData("/s", "/tv1", "/tv1req", true, "v1", "/sreq")]
    [InlineData("/s", "/fv0/", "/fv0/req", false, "v0", "/s/fv0/req")]
    [InlineData("/s", "/fv1/", "/fv1/req", false, "v1", "/sfv1/req")]
    [InlineData("/s", "/tv0/", "/tv0/req", true, "v0", "/s/req")]
    [InlineData("/s", "/tv1/", "/tv1/req", true, "v1", "/sreq")]
    [InlineData("/s/", "/fv0", "/fv0req", false, "v0", "/s/fv0req")]
    [InlineData("/s/", "/fv1", "/fv1req", false, "v1", "/s/fv1req")]
    [InlineData("/s/", "/tv0", "/tv0req", true, "v0", "/s/req")]
    [InlineData("/s/", "/tv1", "/tv1req", true, "v1", "/s/req")]
    [InlineData("/s/", "/fv0/", "/fv0/req", false, "v0", "/s/fv0/req")]
    [InlineData("/s/", "/fv1/", "/fv1/req", false, "v1", "/s/fv1/req")]
    [InlineData("/s/", "/tv0/", "/tv0/req", true, "v0", "/s/req")]
    [InlineData("/s/", "/tv1/", "/tv1/req", true, "v1", "/s/req")]
    // Exact matches and trailing slashes (utils.lua branches).
    [InlineData("/s", "/api", "/api", true, "v0", "/s")]
    [InlineData("/s", "/api", "/api/", true, "v0", "/s/")]
    [InlineData("/s/", "/api", "/api", true, "v0", "/s")]
    [InlineData("/s/", "/api/", "/api/", true, "v0", "/s/")]
    [InlineData(null, "/api", "/api", true, "v0", "/")]
    [InlineData(null, "/api", "/api/users", true, "v0", "/users")]
    [InlineData(null, "/api", "/api/users", false, "v0", "/api/users")]
    [InlineData("/s", "/", "/", false, "v0", "/s")]
    [InlineData("/v1", "/api/users", "/api/users/7", true, "v0", "/v1/7")]
    [InlineData("/v1", "/api/users", "/api/users/7", false, "v0", "/v1/api/users/7")]
    public void Builds_the_upstream_path_as_Kong(string? servicePath, string routePath, string request, bool strip, string handling, string expected)
    {
        Assert.StartsWith(routePath, request, StringComparison.Ordinal);

        var actual = UpstreamPath.Build(servicePath, request, strip, handling == "v1", routePath.Length);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Without_a_path_match_the_whole_path_is_kept()
    {
        Assert.Equal("/s/users/1", UpstreamPath.Build("/s", "/users/1", stripPath: true, pathHandlingV1: false, matchedLength: 0));
    }

    [Fact]
    public void Leftover_dot_segments_are_sanitized()
    {
        Assert.Equal("/s", UpstreamPath.Build("/s", "/api..", stripPath: true, pathHandlingV1: false, matchedLength: 4));
    }
}
