using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using ServerlessGateway.Authentication.Jwks;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Authentication;

/// <summary>
/// The <c>openid-connect</c> plugin, this gateway's documented extension: the bearer-token subset of
/// Kong Enterprise's plugin (https://docs.konghq.com/hub/kong-inc/openid-connect/). An access token
/// in <c>Authorization: Bearer</c> (RFC 6750 §2.1) is validated against the issuer's keys (discovery
/// or <c>jwks_uri</c>, cached by <see cref="OidcKeyCache"/>), then Kong Enterprise's audience, scope
/// and role requirements apply, the token is mapped to a consumer, and chosen claims go to the
/// backend as headers. Missing or invalid tokens are 401, insufficient ones 403, both with an
/// RFC 6750 §3 challenge.
/// </summary>
internal sealed class OpenIdConnectPlugin : GatewayPlugin
{
    private const string Realm = "Bearer realm=\"kong\"";
    private static readonly string[] KongAllParamTypes = ["header", "query", "body"];
    private static readonly string[] KongAllAuthMethods =
        ["authorization_code", "bearer", "client_credentials", "introspection", "kong_oauth2", "password", "refresh_token", "session", "userinfo"];

    private readonly Options _options;
    private readonly OidcTokenValidator _validator;
    private readonly ValidatedTokenCache _cache;

    private OpenIdConnectPlugin(PluginConfig config, Options options, OidcKeyCache keys, TimeProvider time) : base(config)
    {
        _options = options;
        _validator = new OidcTokenValidator(keys, options.Validation, time);
        _cache = new ValidatedTokenCache(time);
    }

    internal enum ConsumerBy { Id, Username, CustomId }

    internal sealed record Options(
        OidcValidationParameters Validation,
        string[][] AudienceRequired,
        string[] AudienceClaim,
        string[][] ScopesRequired,
        string[] ScopesClaim,
        string[][] RolesRequired,
        string[] RolesClaim,
        string[]? ConsumerClaim,
        ConsumerBy[] ConsumerBy,
        bool ConsumerOptional,
        string[] CredentialClaim,
        (string Claim, string Header)[] UpstreamHeaders,
        bool HideCredentials,
        string? Anonymous,
        bool RunOnPreflight);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "openid-connect";

        public override bool IsAuthentication => true;

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime)
        {
            var options = Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), null)
                ?? throw new InvalidOperationException("an openid-connect config that passed validation did not read back");
            var keys = runtime.Services.GetService<OidcKeyCache>()
                ?? throw new InvalidOperationException("the openid-connect plugin needs the OidcKeyCache service (AddServerlessGateway registers it)");
            keys.Warm(options.Validation.Source);
            return new OpenIdConnectPlugin(plugin, options, keys, runtime.Time);
        }

        private static Options? Read(MapReader config, PluginValidationContext? context)
        {
            var issuer = config.String("issuer");
            var jwksUri = config.String("jwks_uri");
            var issuersAllowed = NonEmpty(config, "issuers_allowed");
            OidcKeySource? source = null;
            string[]? allowedIssuers = issuersAllowed.Length > 0 ? issuersAllowed : null;
            string error;
            if (jwksUri is not null)
            {
                source = OidcKeySource.ForJwksUri(jwksUri, out error);
                if (source is null)
                {
                    config.Error("jwks_uri", error);
                }

                if (issuer is not null)
                {
                    // Keys from jwks_uri, no discovery: the issuer then only names the accepted 'iss'.
                    if (OidcKeySource.TryParseUrl(issuer, out error) is null)
                    {
                        config.Error("issuer", error);
                    }

                    allowedIssuers ??= [StripDiscoverySuffix(issuer)];
                }
            }
            else if (issuer is not null)
            {
                source = OidcKeySource.ForIssuer(issuer, out error);
                if (source is null)
                {
                    config.Error("issuer", error);
                }
            }
            else
            {
                config.Error("issuer", "set 'issuer' (discovery) or 'jwks_uri'");
            }

            var leeway = config.Int("leeway", 0, 0, 3600);
            var rediscovery = config.Int("rediscovery_lifetime", 30, 1, 86400);
            var audienceRequired = Required(config, "audience_required");
            var scopesRequired = Required(config, "scopes_required");
            var rolesRequired = Required(config, "roles_required");
            var audienceClaim = ClaimPath(config, "audience_claim", "aud");
            var scopesClaim = ClaimPath(config, "scopes_claim", "scope");
            var rolesClaim = ClaimPath(config, "roles_claim", "roles");
            var credentialClaim = ClaimPath(config, "credential_claim", "sub");
            var consumerClaim = NonEmpty(config, "consumer_claim");
            var consumerBy = ReadConsumerBy(config);
            var consumerOptional = config.Bool("consumer_optional", true);
            var upstreamHeaders = ReadUpstreamHeaders(config);

            var anonymous = config.String("anonymous");
            if (anonymous is not null && context is not null && !context.ConsumerExists(anonymous))
            {
                config.Error("anonymous", $"no consumer '{anonymous}'");
            }

            ReadAuthMethods(config);
            ReadParamTypes(config);
            // TLS certificates of the IdP are always verified, whatever this says (Kong's default varies by version).
            config.Bool("ssl_verify", false);
            var hideCredentials = config.Bool("hide_credentials", false);
            var runOnPreflight = config.Bool("run_on_preflight", true);
            foreach (var (name, defaultJson) in OpenIdConnectKongFields.Defaults)
            {
                config.KongDefault(name, defaultJson, OpenIdConnectKongFields.Reason);
            }

            config.Finish();
            if (source is null)
            {
                return null;
            }

            return new Options(
                new OidcValidationParameters(source, allowedIssuers, TimeSpan.FromSeconds(leeway), TimeSpan.FromSeconds(rediscovery)),
                audienceRequired,
                audienceClaim,
                scopesRequired,
                scopesClaim,
                rolesRequired,
                rolesClaim,
                consumerClaim.Length > 0 ? consumerClaim : null,
                consumerBy,
                consumerOptional,
                credentialClaim,
                upstreamHeaders,
                hideCredentials,
                anonymous,
                runOnPreflight);
        }

        private static string StripDiscoverySuffix(string issuer) =>
            issuer.EndsWith(OidcKeySource.DiscoverySuffix, StringComparison.Ordinal) ? issuer[..^OidcKeySource.DiscoverySuffix.Length] : issuer;

        private static string[] NonEmpty(MapReader config, string key)
        {
            var values = config.StringList(key);
            if (values.Any(v => v.Length == 0))
            {
                config.Error(key, "entries must not be empty");
            }

            return [.. values];
        }

        /// <summary>Kong Enterprise's AND / OR lists: each entry is a space-separated set.</summary>
        private static string[][] Required(MapReader config, string key) =>
            [.. config.StringList(key).Select(e => e.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(g => g.Length > 0)];

        private static string[] ClaimPath(MapReader config, string key, string defaultClaim)
        {
            if (!config.Has(key))
            {
                config.Ignore(key);
                return [defaultClaim];
            }

            var path = NonEmpty(config, key);
            if (path.Length == 0)
            {
                config.Error(key, "name at least one claim");
            }

            return path;
        }

        private static ConsumerBy[] ReadConsumerBy(MapReader config)
        {
            if (!config.Has("consumer_by"))
            {
                config.Ignore("consumer_by");
                return [ConsumerBy.Username, ConsumerBy.CustomId];
            }

            var result = new List<ConsumerBy>();
            foreach (var value in config.StringList("consumer_by"))
            {
                switch (value)
                {
                    case "id":
                        result.Add(ConsumerBy.Id);
                        break;
                    case "username":
                        result.Add(ConsumerBy.Username);
                        break;
                    case "custom_id":
                        result.Add(ConsumerBy.CustomId);
                        break;
                    default:
                        config.Error("consumer_by", $"'{value}' is not one of id, username, custom_id");
                        break;
                }
            }

            if (result.Count == 0)
            {
                config.Error("consumer_by", "name at least one of id, username, custom_id");
            }

            return [.. result];
        }

        private static (string, string)[] ReadUpstreamHeaders(MapReader config)
        {
            var claims = config.StringList("upstream_headers_claims");
            var names = config.StringList("upstream_headers_names");
            if (claims.Count != names.Count)
            {
                config.Error("upstream_headers_names", "must have one header name for each entry of upstream_headers_claims");
                return [];
            }

            var result = new (string, string)[claims.Count];
            for (var i = 0; i < claims.Count; i++)
            {
                if (claims[i].Length == 0)
                {
                    config.Error("upstream_headers_claims", "entries must not be empty");
                }

                if (!IsToken(names[i]))
                {
                    config.Error("upstream_headers_names", $"'{names[i]}' is not a valid header name");
                }
                else if (IsReserved(names[i]))
                {
                    config.Error("upstream_headers_names", $"'{names[i]}' cannot be set from a claim (the gateway owns it)");
                }

                result[i] = (claims[i], names[i]);
            }

            return result;
        }

        /// <summary>Headers a claim must not set: Kong's identity headers (only authentication sets them) and message framing.</summary>
        private static bool IsReserved(string name) =>
            name.StartsWith("X-Consumer-", StringComparison.OrdinalIgnoreCase)
            || name.Equals("X-Credential-Identifier", StringComparison.OrdinalIgnoreCase)
            || name.Equals("X-Anonymous-Consumer", StringComparison.OrdinalIgnoreCase)
            || name.Equals("X-Gateway-Admin-Key", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Host", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)
            || name.Equals("TE", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Trailer", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Proxy-Connection", StringComparison.OrdinalIgnoreCase);

        /// <summary>RFC 9110 §5.6.2 token characters.</summary>
        private static bool IsToken(string name) =>
            name.Length > 0 && name.All(c => c is > ' ' and < (char)127 and not ('(' or ')' or ',' or '/' or ':' or ';' or '<' or '=' or '>' or '?' or '@' or '[' or '\\' or ']' or '"' or '{' or '}'));

        /// <summary>Only the bearer flow is built: Kong's default list (all methods) is accepted, meaning bearer here.</summary>
        private static void ReadAuthMethods(MapReader config)
        {
            if (!config.Has("auth_methods"))
            {
                config.Ignore("auth_methods");
                return;
            }

            var methods = config.StringList("auth_methods");
            if (methods.Order(StringComparer.Ordinal).SequenceEqual(KongAllAuthMethods))
            {
                return;
            }

            if (!methods.Contains("bearer") || methods.Any(m => m != "bearer"))
            {
                config.Error("auth_methods", $"not supported by this gateway: only [\"bearer\"] (or Kong's default) is accepted ({OpenIdConnectKongFields.Reason})");
            }
        }

        /// <summary>The token is read from the Authorization header; Kong's default list (header, query, body) is accepted, meaning the header here.</summary>
        private static void ReadParamTypes(MapReader config)
        {
            if (!config.Has("bearer_token_param_type"))
            {
                config.Ignore("bearer_token_param_type");
                return;
            }

            var types = config.StringList("bearer_token_param_type");
            if (!types.Contains("header") || types.Any(t => !KongAllParamTypes.Contains(t)))
            {
                config.Error("bearer_token_param_type", "not supported by this gateway: tokens are read from the Authorization header, so the list must contain \"header\"");
            }
        }
    }

    public override async ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        if (AuthenticationOutcome.ShouldSkip(context, _options.Anonymous, _options.RunOnPreflight))
        {
            return PluginResult.Continue;
        }

        var request = context.Http.Request;
        var authorization = request.Headers.Authorization;
        if (authorization.Count > 1)
        {
            return Fail(context, StatusCodes.Status401Unauthorized, "invalid_request", "The request has more than one Authorization header");
        }

        if (!TryReadBearer(authorization.ToString(), out var token))
        {
            // RFC 6750 §3.1: no credentials, no error code.
            return Fail(context, PluginResult.Reject(StatusCodes.Status401Unauthorized, "No bearer token found in request", Realm));
        }

        if (!_cache.TryGet(token, out var validated))
        {
            OidcValidation result;
            try
            {
                result = await _validator.ValidateAsync(token, context.Http.RequestAborted);
            }
            catch (OperationCanceledException) when (context.Http.RequestAborted.IsCancellationRequested)
            {
                // The client left while the issuer's keys were being fetched; nobody reads this answer.
                return PluginResult.Reject(StatusCodes.Status499ClientClosedRequest, "The client closed the request");
            }

            switch (result.Failure)
            {
                case OidcFailure.KeysUnavailable:
                    // Not the client's fault, and not an authentication failure: no anonymous fallback.
                    return new PluginResult(StatusCodes.Status503ServiceUnavailable, result.Description, null, _options.Validation.MinRefreshInterval);
                case OidcFailure.InvalidToken:
                    return Fail(context, StatusCodes.Status401Unauthorized, "invalid_token", result.Description);
            }

            var claims = result.Claims!;
            if (Authorize(claims) is { } forbidden)
            {
                return Fail(context, forbidden);
            }

            var credential = TokenClaims.Scalar(TokenClaims.Find(claims, _options.CredentialClaim));
            if (credential is not { Length: > 0 } || !TokenClaims.IsHeaderSafe(credential))
            {
                return Fail(context, StatusCodes.Status401Unauthorized, "invalid_token", "The access token has no usable credential claim");
            }

            ConsumerConfig? consumer = null;
            if (_options.ConsumerClaim is { } consumerClaim)
            {
                consumer = MapConsumer(context.Consumers, TokenClaims.Scalar(TokenClaims.Find(claims, consumerClaim)));
                if (consumer is null && !_options.ConsumerOptional)
                {
                    return Fail(context, PluginResult.Reject(StatusCodes.Status403Forbidden, "No consumer matches the access token"));
                }
            }

            validated = new ValidatedToken(consumer, credential, claims, result.NotBefore, result.NotAfter);
            _cache.Add(token, validated);
        }

        Apply(context, validated);
        return PluginResult.Continue;
    }

    /// <summary><c>Authorization: Bearer &lt;token&gt;</c>; the scheme is case-insensitive (RFC 9110 §11.1).</summary>
    private static bool TryReadBearer(string header, out string token)
    {
        token = "";
        const string Scheme = "Bearer ";
        if (header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        token = header.AsSpan(Scheme.Length).Trim(' ').ToString();
        return token.Length > 0;
    }

    /// <summary>Kong Enterprise's audience, scope and role requirements; null when they hold.</summary>
    private PluginResult? Authorize(IReadOnlyDictionary<string, object?> claims)
    {
        if (_options.AudienceRequired.Length > 0
            && !TokenClaims.Satisfies(_options.AudienceRequired, TokenClaims.Values(TokenClaims.Find(claims, _options.AudienceClaim), splitSpaces: false)))
        {
            // Kong Enterprise answers 403 here; the token is fine, just not meant for this API.
            return Reject(StatusCodes.Status403Forbidden, "invalid_token", "The access token's audience is not accepted");
        }

        if (_options.ScopesRequired.Length > 0 && !TokenClaims.Satisfies(_options.ScopesRequired, Scopes(claims)))
        {
            return Reject(StatusCodes.Status403Forbidden, "insufficient_scope", "The access token lacks a required scope");
        }

        if (_options.RolesRequired.Length > 0
            && !TokenClaims.Satisfies(_options.RolesRequired, TokenClaims.Values(TokenClaims.Find(claims, _options.RolesClaim), splitSpaces: false)))
        {
            return Reject(StatusCodes.Status403Forbidden, "insufficient_scope", "The access token lacks a required role");
        }

        return null;
    }

    /// <summary>
    /// Scopes from <c>scopes_claim</c> (a space-separated string or an array). With the default
    /// (<c>scope</c>), Entra ID's <c>scp</c> is read when <c>scope</c> is absent.
    /// </summary>
    private List<string> Scopes(IReadOnlyDictionary<string, object?> claims)
    {
        var claim = TokenClaims.Find(claims, _options.ScopesClaim);
        if (claim is null && _options.ScopesClaim is ["scope"])
        {
            claim = claims.GetValueOrDefault("scp");
        }

        return TokenClaims.Values(claim, splitSpaces: true);
    }

    private ConsumerConfig? MapConsumer(ConsumerIndex consumers, string? value)
    {
        if (value is not { Length: > 0 })
        {
            return null;
        }

        foreach (var by in _options.ConsumerBy)
        {
            var consumer = by switch
            {
                ConsumerBy.Id => consumers.FindById(value),
                ConsumerBy.Username => consumers.FindByUsername(value),
                _ => consumers.FindByCustomId(value),
            };
            if (consumer is not null)
            {
                return consumer;
            }
        }

        return null;
    }

    private void Apply(GatewayContext context, ValidatedToken validated)
    {
        var feature = context.Request;
        if (validated.Consumer is { } consumer)
        {
            feature.Consumer = consumer;
        }
        else if (feature.Anonymous)
        {
            feature.Consumer = null;
        }

        feature.CredentialIdentifier = validated.CredentialIdentifier;
        feature.Anonymous = false;
        feature.Claims = validated.Claims;

        foreach (var (claim, header) in _options.UpstreamHeaders)
        {
            if (HeaderValue(validated.Claims.GetValueOrDefault(claim)) is { } value)
            {
                feature.AddUpstreamHeader(header, value);
            }
        }

        if (_options.HideCredentials)
        {
            context.Http.Request.Headers.Remove(HeaderNames.Authorization);
        }
    }

    /// <summary>
    /// A claim as a header value: scalars as text, arrays of scalars joined with ", ". Objects, and any
    /// value with characters outside visible ASCII (CR, LF, NUL, non-ASCII), are not forwarded: a header
    /// can carry neither faithfully, and a line break would let a claim forge headers.
    /// </summary>
    private static string? HeaderValue(object? claim)
    {
        var text = claim is object?[] ? string.Join(", ", TokenClaims.Values(claim, splitSpaces: false)) : TokenClaims.Scalar(claim);
        return text is { Length: > 0 } && TokenClaims.IsHeaderSafe(text) ? text : null;
    }

    private static PluginResult Reject(int status, string error, string description) =>
        PluginResult.Reject(status, description, $"{Realm}, error=\"{error}\", error_description=\"{description}\"");

    private PluginResult Fail(GatewayContext context, int status, string error, string description) =>
        Fail(context, Reject(status, error, description));

    private PluginResult Fail(GatewayContext context, PluginResult failure) =>
        AuthenticationOutcome.Fail(context, _options.Anonymous, failure);
}
