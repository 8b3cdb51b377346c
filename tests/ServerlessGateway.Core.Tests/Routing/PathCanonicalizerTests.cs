using ServerlessGateway.Routing;

namespace ServerlessGateway.Tests.Routing;

public sealed class PathCanonicalizerTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("/api/users", "/api/users")]
    [InlineData("/api/users/", "/api/users/")]
    [InlineData("/api//users", "/api/users")]
    [InlineData("//api///users//", "/api/users/")]
    [InlineData("/api/./users", "/api/users")]
    [InlineData("/api/x/../users", "/api/users")]
    [InlineData("/api/users/..", "/api/")]
    [InlineData("/api/users/.", "/api/users/")]
    [InlineData("/../../api", "/api")]
    [InlineData("/api/%2e%2e/admin", "/admin")]
    [InlineData("/api/%2E%2E/%2e/admin", "/admin")]
    [InlineData("/api/.%2e/admin", "/admin")]
    [InlineData("/api/us%65rs", "/api/users")]
    [InlineData("/api/%7euser", "/api/~user")]
    [InlineData("/a%20b", "/a%20b")]
    [InlineData("/a%3fb", "/a%3Fb")]
    [InlineData("/a%c3%a9", "/a%C3%A9")]
    [InlineData("/api/..foo/x", "/api/..foo/x")]
    [InlineData("/a;b=c", "/a;b=c")]
    public void Canonicalizes(string raw, string expected)
    {
        var error = PathCanonicalizer.TryCanonicalize(raw, out var canonical);

        Assert.Equal(CanonicalPathError.None, error);
        Assert.Equal(expected, canonical);
        // Canonical is a fixed point.
        Assert.Equal(CanonicalPathError.None, PathCanonicalizer.TryCanonicalize(canonical, out var again));
        Assert.Equal(canonical, again);
    }

    [Theory]
    [InlineData("/api%2Fusers", CanonicalPathError.EncodedSlash)]
    [InlineData("/api%2fusers", CanonicalPathError.EncodedSlash)]
    [InlineData("/api%5Cusers", CanonicalPathError.EncodedBackslash)]
    [InlineData("/api%00", CanonicalPathError.EncodedNul)]
    [InlineData("/api\\users", CanonicalPathError.Backslash)]
    [InlineData("/api%2", CanonicalPathError.InvalidEncoding)]
    [InlineData("/api%zz", CanonicalPathError.InvalidEncoding)]
    [InlineData("/api users", CanonicalPathError.InvalidCharacter)]
    [InlineData("/api\u00e9", CanonicalPathError.InvalidCharacter)]
    [InlineData("api", CanonicalPathError.NotAbsolute)]
    [InlineData("", CanonicalPathError.NotAbsolute)]
    [InlineData("/api/..;/admin", CanonicalPathError.DotSegmentWithParameters)]
    [InlineData("/api/.;x=1/admin", CanonicalPathError.DotSegmentWithParameters)]
    [InlineData("/api/%2e%2e;/admin", CanonicalPathError.DotSegmentWithParameters)]
    public void Rejects(string raw, CanonicalPathError expected)
    {
        Assert.Equal(expected, PathCanonicalizer.TryCanonicalize(raw, out _));
    }

    [Fact]
    public void Already_canonical_paths_are_returned_without_a_copy()
    {
        const string path = "/api/users/42";

        PathCanonicalizer.TryCanonicalize(path, out var canonical);

        Assert.Same(path, canonical);
    }
}
