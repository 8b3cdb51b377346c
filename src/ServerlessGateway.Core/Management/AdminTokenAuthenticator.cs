using Microsoft.Extensions.Logging;
using ServerlessGateway.Authentication;
using ServerlessGateway.Authentication.Jwks;

namespace ServerlessGateway.Management;

/// <summary>What a bearer token on a management request established.</summary>
internal readonly record struct AdminTokenResult(AdminAuthOutcome Outcome, string Actor, string Description);

/// <summary>
/// Management API bearer tokens (DESIGN.md §5): an OIDC access token (Entra ID v1 or v2) from
/// <c>Gateway:Admin:Issuer</c>, validated with the same key cache as the <c>openid-connect</c> plugin
/// (keys through discovery), whose <c>aud</c> is <c>Gateway:Admin:Audience</c> and whose <c>roles</c>
/// hold <c>Gateway:Admin:Role</c>. A bad, expired or foreign token is a failed authentication; a
/// valid one without the role is authenticated but forbidden. The actor recorded for changes is
/// <c>token:</c> plus the token's <c>oid</c> (Entra ID's stable object id) or else its <c>sub</c>.
/// </summary>
internal sealed partial class AdminTokenAuthenticator
{
    /// <summary>Clock skew allowed on <c>exp</c>/<c>nbf</c> of admin tokens (Entra ID already backdates <c>nbf</c> by five minutes).</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    private readonly OidcTokenValidator? _validator;
    private readonly string _audience = "";
    private readonly string _role = "";

    public AdminTokenAuthenticator(AdminOptions options, OidcKeyCache keys, TimeProvider time, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(options.Issuer))
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(options.Audience) || string.IsNullOrWhiteSpace(options.Role))
        {
            LogDisabled(logger, "Gateway:Admin:Audience and Gateway:Admin:Role must be set with Gateway:Admin:Issuer");
            return;
        }

        if (OidcKeySource.ForIssuer(options.Issuer, out var error) is not { } source)
        {
            LogDisabled(logger, "Gateway:Admin:Issuer: " + error);
            return;
        }

        _audience = options.Audience;
        _role = options.Role;
        _validator = new OidcTokenValidator(keys, new OidcValidationParameters(source, null, ClockSkew, OidcKeyCache.DefaultMinRefreshInterval), time);
        keys.Warm(source);
    }

    /// <summary>True when admin tokens are configured (and the configuration is usable).</summary>
    public bool Enabled => _validator is not null;

    public async ValueTask<AdminTokenResult> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (_validator is null)
        {
            return new AdminTokenResult(AdminAuthOutcome.Missing, "", "");
        }

        var result = await _validator.ValidateAsync(token, cancellationToken);
        switch (result.Failure)
        {
            case OidcFailure.KeysUnavailable:
                return new AdminTokenResult(AdminAuthOutcome.Unavailable, "", result.Description);
            case OidcFailure.InvalidToken:
                return new AdminTokenResult(AdminAuthOutcome.Invalid, "", result.Description);
        }

        var claims = result.Claims!;
        if (!TokenClaims.Values(claims.GetValueOrDefault("aud"), splitSpaces: false).Contains(_audience, StringComparer.Ordinal))
        {
            return new AdminTokenResult(AdminAuthOutcome.Invalid, "", "The access token's audience is not accepted");
        }

        var subject = TokenClaims.Scalar(claims.GetValueOrDefault("oid")) ?? TokenClaims.Scalar(claims.GetValueOrDefault("sub"));
        if (subject is not { Length: > 0 and <= 256 } || !TokenClaims.IsHeaderSafe(subject))
        {
            return new AdminTokenResult(AdminAuthOutcome.Invalid, "", "The access token has no usable subject (oid or sub)");
        }

        if (!TokenClaims.Values(claims.GetValueOrDefault("roles"), splitSpaces: false).Contains(_role, StringComparer.Ordinal))
        {
            return new AdminTokenResult(AdminAuthOutcome.Forbidden, "token:" + subject, "The access token lacks the admin role");
        }

        return new AdminTokenResult(AdminAuthOutcome.Authenticated, "token:" + subject, "");
    }

    [LoggerMessage(EventId = LogEvents.AdminTokensDisabled, Level = LogLevel.Error, Message = "Admin bearer tokens are disabled: {Reason}")]
    private static partial void LogDisabled(ILogger logger, string reason);
}
