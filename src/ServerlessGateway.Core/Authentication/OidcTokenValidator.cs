using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using ServerlessGateway.Authentication.Jwks;

namespace ServerlessGateway.Authentication;

/// <summary>What an issuer's tokens must satisfy, fixed when a plugin instance (or the admin authenticator) is built.</summary>
/// <param name="Source">Where the signing keys come from.</param>
/// <param name="AllowedIssuers">
/// Accepted <c>iss</c> values; null means the issuer the discovery document states (a discovery
/// source), or no <c>iss</c> check (a JWKS URL alone).
/// </param>
/// <param name="Leeway">Clock skew allowed on <c>exp</c> and <c>nbf</c>.</param>
/// <param name="MinRefreshInterval">The least time between two on-demand key refreshes (unknown <c>kid</c>).</param>
internal sealed record OidcValidationParameters(OidcKeySource Source, IReadOnlyList<string>? AllowedIssuers, TimeSpan Leeway, TimeSpan MinRefreshInterval);

internal enum OidcFailure { None, InvalidToken, KeysUnavailable }

/// <summary>The outcome of validating one token: its claims and validity window, or why it failed (an RFC 6750 error description).</summary>
internal readonly record struct OidcValidation(
    OidcFailure Failure,
    string Description,
    IReadOnlyDictionary<string, object?>? Claims,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter)
{
    public static OidcValidation Invalid(string description) => new(OidcFailure.InvalidToken, description, null, default, default);
}

/// <summary>
/// Validates an access token from an OIDC issuer: a JWS in compact form (RFC 7515 §7.1) whose
/// <c>alg</c> is an asymmetric algorithm (never <c>none</c> or HMAC in any spelling: the keys are
/// public), signed by a key of the issuer's JWK set, with an accepted <c>iss</c>, an <c>exp</c>
/// (required: a token that never expires is refused) and an <c>nbf</c> (when present) within the
/// leeway (RFC 7519 §4.1). Audience, scopes and roles are the caller's policy. Never throws on input.
/// </summary>
internal sealed class OidcTokenValidator(OidcKeyCache keys, OidcValidationParameters parameters, TimeProvider time)
{
    /// <summary>Longer tokens are refused before any decoding (Entra ID tokens with many groups stay well below).</summary>
    public const int MaxTokenLength = 16 * 1024;

    private static readonly SearchValues<char> Base64UrlChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public OidcValidationParameters Parameters => parameters;

    public async ValueTask<OidcValidation> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length > MaxTokenLength)
        {
            return OidcValidation.Invalid("The access token is too large");
        }

        var first = token.IndexOf('.');
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (second < 0 || token.IndexOf('.', second + 1) >= 0)
        {
            return OidcValidation.Invalid("The access token is not a signed JWT (three base64url segments)");
        }

        if (second == token.Length - 1)
        {
            // An unsecured JWS (RFC 7515 Appendix A.5, alg "none") has an empty signature.
            return OidcValidation.Invalid("The access token is not signed");
        }

        if (!TryDecode(token.AsSpan(0, first), out var headerBytes)
            || !TryDecode(token.AsSpan(first + 1, second - first - 1), out var payloadBytes)
            || !TryDecode(token.AsSpan(second + 1), out var signature))
        {
            return OidcValidation.Invalid("The access token is not valid base64url");
        }

        string alg;
        string? kid;
        Dictionary<string, object?> claims;

        // A block of its own: the pooled documents are returned before the key lookup awaits.
        {
            using var header = JoseJson.TryParse(headerBytes);
            using var payload = JoseJson.TryParse(payloadBytes);
            if (header is null || payload is null)
            {
                return OidcValidation.Invalid("The access token is not valid JSON");
            }

            if (header.RootElement.ValueKind != JsonValueKind.Object || payload.RootElement.ValueKind != JsonValueKind.Object)
            {
                return OidcValidation.Invalid("The access token's header or claims are not a JSON object");
            }

            var root = header.RootElement;
            if (!root.TryGetProperty("alg", out var algElement) || algElement.ValueKind != JsonValueKind.String
                || !SigningKey.SupportedAlgorithms(algElement.GetString()!))
            {
                return OidcValidation.Invalid("The access token's signing algorithm is not accepted");
            }

            // RFC 7515 §4.1.11: extensions marked critical must be understood; this gateway understands none.
            if (root.TryGetProperty("crit", out _))
            {
                return OidcValidation.Invalid("The access token has critical header parameters");
            }

            alg = algElement.GetString()!;
            kid = null;
            if (root.TryGetProperty("kid", out var kidElement))
            {
                if (kidElement.ValueKind != JsonValueKind.String)
                {
                    return OidcValidation.Invalid("The access token's key id is not a string");
                }

                kid = kidElement.GetString();
            }

            claims = TokenClaims.FromJson(payload.RootElement);
        }

        var lookup = await keys.FindAsync(parameters.Source, kid, alg, parameters.MinRefreshInterval, cancellationToken);
        switch (lookup.Status)
        {
            case KeyLookupStatus.Unavailable:
                return new OidcValidation(OidcFailure.KeysUnavailable, "The issuer's signing keys could not be loaded", null, default, default);
            case KeyLookupStatus.UnknownKey:
                return OidcValidation.Invalid("The access token's signing key is not known");
        }

        var signingInput = Encoding.ASCII.GetBytes(token, 0, second);
        var verified = false;
        foreach (var key in lookup.Candidates)
        {
            if (key.Verify(alg, signingInput, signature))
            {
                verified = true;
                break;
            }
        }

        if (!verified)
        {
            return OidcValidation.Invalid("The access token's signature is invalid");
        }

        var allowed = parameters.AllowedIssuers ?? (lookup.Set!.Issuer is { } discovered ? [discovered] : null);
        if (allowed is not null && (!claims.TryGetValue("iss", out var iss) || iss is not string issuer || !allowed.Contains(issuer, StringComparer.Ordinal)))
        {
            return OidcValidation.Invalid("The access token's issuer is not accepted");
        }

        var now = time.GetUtcNow();
        if (TokenClaims.NumericDate(claims, "exp", out _) is not { } exp)
        {
            return OidcValidation.Invalid("The access token has no valid expiry (exp)");
        }

        var notAfter = exp + parameters.Leeway;
        if (now >= notAfter)
        {
            return OidcValidation.Invalid("The access token expired");
        }

        var notBefore = DateTimeOffset.MinValue;
        var nbf = TokenClaims.NumericDate(claims, "nbf", out var hasNbf);
        if (hasNbf)
        {
            if (nbf is null)
            {
                return OidcValidation.Invalid("The access token's nbf is not a number");
            }

            notBefore = nbf.Value - parameters.Leeway;
            if (now < notBefore)
            {
                return OidcValidation.Invalid("The access token is not valid yet (nbf)");
            }
        }

        return new OidcValidation(OidcFailure.None, "", claims, notBefore, notAfter);
    }

    /// <summary>Strict base64url: the JWS alphabet only, no padding.</summary>
    private static bool TryDecode(ReadOnlySpan<char> segment, out byte[] bytes)
    {
        bytes = [];
        if (segment.IsEmpty || segment.ContainsAnyExcept(Base64UrlChars))
        {
            return false;
        }

        var buffer = new byte[Base64Url.GetMaxDecodedLength(segment.Length)];
        if (Base64Url.DecodeFromChars(segment, buffer, out _, out var written) != OperationStatus.Done)
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];
        return true;
    }
}
