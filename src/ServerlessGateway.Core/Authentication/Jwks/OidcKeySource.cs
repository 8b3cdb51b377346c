using System.Net;

namespace ServerlessGateway.Authentication.Jwks;

/// <summary>
/// Where an issuer's signing keys come from: its OpenID Connect discovery document
/// (<c>{issuer}/.well-known/openid-configuration</c> -> <c>jwks_uri</c>, OpenID Connect Discovery 1.0 §4),
/// or a JWK set URL given directly. Sources are compared by value, so every plugin instance and
/// the management API naming the same URL share one cached key set.
/// </summary>
internal sealed record OidcKeySource(Uri Url, bool IsDiscovery)
{
    public const string DiscoverySuffix = "/.well-known/openid-configuration";

    /// <summary>The key the cache files this source under.</summary>
    public string CacheKey { get; } = (IsDiscovery ? "discovery " : "jwks ") + Url.AbsoluteUri;

    /// <summary>
    /// The discovery source of an issuer given as its identifier or as its full discovery URL
    /// (Kong Enterprise accepts both in <c>issuer</c>).
    /// </summary>
    public static OidcKeySource? ForIssuer(string issuer, out string error)
    {
        var discovery = issuer.EndsWith(DiscoverySuffix, StringComparison.Ordinal)
            ? issuer
            : issuer.TrimEnd('/') + DiscoverySuffix;
        return TryParseUrl(issuer, out error) is null || TryParseUrl(discovery, out error) is not { } url
            ? null
            : new OidcKeySource(url, IsDiscovery: true);
    }

    public static OidcKeySource? ForJwksUri(string jwksUri, out string error) =>
        TryParseUrl(jwksUri, out error) is { } url ? new OidcKeySource(url, IsDiscovery: false) : null;

    /// <summary>
    /// The URL rule for every IdP address (configured or discovered): absolute <c>https</c>, or plain
    /// <c>http</c> only to a loopback host (local IdPs and tests). No credentials or fragments in it.
    /// Where it may connect is still decided at connect time by the SSRF guard.
    /// </summary>
    public static Uri? TryParseUrl(string text, out string error)
    {
        error = "";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.IsFile || url.IsUnc)
        {
            error = $"'{text}' is not an absolute URL";
            return null;
        }

        if (url.UserInfo.Length > 0 || url.Fragment.Length > 0)
        {
            error = $"'{text}' must not carry user info or a fragment";
            return null;
        }

        if (url.Scheme == Uri.UriSchemeHttps)
        {
            return url;
        }

        if (url.Scheme == Uri.UriSchemeHttp && IsLoopbackHost(url))
        {
            return url;
        }

        error = $"'{text}' must use https (plain http is accepted only for loopback hosts)";
        return null;
    }

    private static bool IsLoopbackHost(Uri url) =>
        url.IsLoopback
        || (IPAddress.TryParse(url.IdnHost.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
