namespace ServerlessGateway.Forwarding;

/// <summary>
/// The path sent upstream from the service path, the canonical request path and the route's
/// strip_path / path_handling, exactly as Kong builds it (kong/router/utils.lua get_upstream_uri
/// for v0; the runloop's v1 branch). See https://docs.konghq.com/gateway/latest/reference/proxy/#strip-the-request-path.
/// </summary>
internal static class UpstreamPath
{
    /// <param name="servicePath">The service's path, or null (Kong then uses "/").</param>
    /// <param name="requestPath">The canonical request path.</param>
    /// <param name="matchedLength">How much of the request path the route matched (prefix or regex match); 0 without a path match.</param>
    public static string Build(string? servicePath, string requestPath, bool stripPath, bool pathHandlingV1, int matchedLength)
    {
        var upstreamBase = servicePath ?? "/";
        // Without a path match the postfix is the whole path without its first slash.
        var postfix = stripPath && matchedLength > 0
            ? Sanitize(requestPath[matchedLength..])
            : requestPath[1..];

        if (pathHandlingV1)
        {
            if (!stripPath)
            {
                return upstreamBase + requestPath[1..];
            }

            return upstreamBase.EndsWith('/') && postfix.StartsWith('/')
                ? upstreamBase[..^1] + postfix
                : upstreamBase + postfix;
        }

        if (upstreamBase.EndsWith('/'))
        {
            if (!stripPath)
            {
                return upstreamBase + requestPath[1..];
            }

            if (postfix.Length == 0)
            {
                if (upstreamBase == "/")
                {
                    return "/";
                }

                return requestPath.EndsWith('/') ? upstreamBase : upstreamBase[..^1];
            }

            return postfix.StartsWith('/') ? upstreamBase[..^1] + postfix : upstreamBase + postfix;
        }

        if (!stripPath)
        {
            return requestPath == "/" ? upstreamBase : upstreamBase + requestPath;
        }

        if (postfix.Length == 0)
        {
            return requestPath.Length > 1 && requestPath.EndsWith('/') ? upstreamBase + "/" : upstreamBase;
        }

        return postfix.StartsWith('/') ? upstreamBase + postfix : upstreamBase + "/" + postfix;
    }

    /// <summary>Kong's sanitize_uri_postfix: a leftover "." / ".." segment never reaches the backend.</summary>
    private static string Sanitize(string postfix)
    {
        if (postfix is "." or "..")
        {
            return "";
        }

        if (postfix.StartsWith("./", StringComparison.Ordinal))
        {
            return postfix[2..];
        }

        return postfix.StartsWith("../", StringComparison.Ordinal) ? postfix[3..] : postfix;
    }
}
