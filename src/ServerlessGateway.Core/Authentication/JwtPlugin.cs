using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Authentication;

/// <summary>
/// Kong's <c>jwt</c> (https://docs.konghq.com/hub/kong-inc/jwt/): a JWS from the query string, a cookie
/// or a <c>Bearer</c> header; its <c>key_claim_name</c> claim (payload first, then header) names a
/// consumer's <c>jwt_secrets</c> entry, whose algorithm the token's <c>alg</c> must equal and whose key
/// must verify the signature; then <c>claims_to_verify</c> and <c>maximum_expiration</c>. As in Kong 3.x,
/// every failure is 401; the challenge follows RFC 6750 §3.
/// A validated token is cached (per instance, so per snapshot) and a repeat costs a hash and a
/// lookup, never past its verified <c>exp</c>.
/// </summary>
internal sealed class JwtPlugin : GatewayPlugin
{
    /// <summary>How long a token whose <c>exp</c> is not verified may be served from the cache.</summary>
    internal static readonly TimeSpan UnverifiedExpiryCacheWindow = TimeSpan.FromMinutes(5);

    private readonly Options _options;
    private readonly PluginRuntime _runtime;
    private readonly ValidatedTokenCache _cache;

    /// <summary>Keys built once per credential; a credential object belongs to one snapshot, hence reference keys.</summary>
    private readonly ConcurrentDictionary<JwtSecret, JwtVerificationKey?> _keys = new(ReferenceEqualityComparer.Instance);

    private readonly string _challenge;
    private readonly string _invalidToken;
    private readonly string _invalidRequest;

    internal JwtPlugin(PluginConfig config, Options options, PluginRuntime runtime, int cacheCapacity = 10_000)
        : base(config)
    {
        _options = options;
        _runtime = runtime;
        _cache = new ValidatedTokenCache(runtime.Time, cacheCapacity);
        // RFC 6750 §3: no error code when the request carried no token at all.
        _challenge = options.Realm is null ? "Bearer" : $"Bearer realm=\"{options.Realm}\"";
        var separator = options.Realm is null ? " " : ", ";
        _invalidToken = _challenge + separator + "error=\"invalid_token\"";
        _invalidRequest = _challenge + separator + "error=\"invalid_request\"";
    }

    internal sealed record Options(
        string KeyClaimName,
        bool SecretIsBase64,
        string[] UriParamNames,
        string[] CookieNames,
        string[] HeaderNames,
        string[] ClaimsToVerify,
        int MaximumExpiration,
        string? Anonymous,
        bool RunOnPreflight,
        string? Realm);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "jwt";

        public override bool IsAuthentication => true;

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new JwtPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), null), runtime);

        /// <summary>Kong's schema (kong/plugins/jwt/schema.lua): field names, defaults, ranges and its entity check.</summary>
        internal static Options Read(MapReader config, PluginValidationContext? context)
        {
            var uriParamNames = Names(config, "uri_param_names", ["jwt"], header: false);
            var cookieNames = Names(config, "cookie_names", [], header: false);
            var headerNames = Names(config, "header_names", ["authorization"], header: true);

            var keyClaimName = config.String("key_claim_name") ?? "iss";
            if (keyClaimName.Length == 0)
            {
                config.Error("key_claim_name", "must not be empty");
            }

            var claims = config.StringList("claims_to_verify");
            for (var i = 0; i < claims.Count; i++)
            {
                if (claims[i] is not ("exp" or "nbf"))
                {
                    config.Error($"claims_to_verify[{i}]", "expected one of: exp, nbf");
                }
            }

            var maximumExpiration = config.Int("maximum_expiration", 0, 0, 31_536_000);
            if (maximumExpiration > 0 && !claims.Contains("exp"))
            {
                // Kong's entity check: a maximum lifetime is measured from a verified exp.
                config.Error("claims_to_verify", "must contain 'exp' when maximum_expiration is set");
            }

            var anonymous = config.String("anonymous");
            if (anonymous is not null && context is not null && !context.ConsumerExists(anonymous))
            {
                config.Error("anonymous", $"no consumer '{anonymous}'");
            }

            var realm = config.String("realm");
            if (realm is not null && realm.Any(c => c is '"' or '\\' || char.IsControl(c)))
            {
                config.Error("realm", "must not contain quotes, backslashes or control characters");
            }

            var options = new Options(
                keyClaimName,
                config.Bool("secret_is_base64", false),
                uriParamNames,
                cookieNames,
                headerNames,
                [.. claims.Distinct(StringComparer.Ordinal)],
                maximumExpiration,
                anonymous,
                config.Bool("run_on_preflight", true),
                realm);
            config.Finish();
            return options;
        }

        private static string[] Names(MapReader config, string key, string[] defaults, bool header)
        {
            if (!config.Has(key))
            {
                config.Get(key);
                return defaults;
            }

            var names = config.StringList(key);
            for (var i = 0; i < names.Count; i++)
            {
                var name = names[i];
                if (name.Length == 0 || header && name.Any(c => c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".Contains(c)))
                {
                    config.Error($"{key}[{i}]", header ? $"'{name}' is not a valid header name" : "must not be empty");
                }
            }

            return [.. names.Distinct(StringComparer.Ordinal)];
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        if (AuthenticationOutcome.ShouldSkip(context, _options.Anonymous, _options.RunOnPreflight))
        {
            return ValueTask.FromResult(PluginResult.Continue);
        }

        return ValueTask.FromResult(Authenticate(context));
    }

    private PluginResult Authenticate(GatewayContext context)
    {
        var found = FindToken(context.Http.Request, out var token);
        if (found == TokenSearch.None)
        {
            return Fail(context, "Unauthorized", _challenge);
        }

        if (found == TokenSearch.Multiple)
        {
            // RFC 6750 §3.1: more than one way of sending a token is an invalid request.
            return Fail(context, "Multiple tokens provided", _invalidRequest);
        }

        if (token.Length > JwtToken.MaxLength)
        {
            return Fail(context, JwtToken.Describe(JwtParseError.TooLarge), _invalidToken);
        }

        if (_cache.TryGet(token, out var cached))
        {
            return Succeed(context, cached);
        }

        var error = JwtToken.TryParse(token, out var jwt);
        if (error != JwtParseError.None)
        {
            return Fail(context, JwtToken.Describe(error), _invalidToken);
        }

        using (jwt)
        {
            var outcome = Validate(context, jwt!, out var validated);
            if (validated is null)
            {
                return Fail(context, outcome, _invalidToken);
            }

            _cache.Add(token, validated);
            return Succeed(context, validated);
        }
    }

    /// <summary>Kong's checks in Kong's order and wording; the validated token, or why not.</summary>
    private string Validate(GatewayContext context, JwtToken jwt, out ValidatedToken? validated)
    {
        validated = null;
        var claimName = _options.KeyClaimName;
        if (!jwt.Payload.TryGetProperty(claimName, out var keyClaim) && !jwt.Header.TryGetProperty(claimName, out keyClaim))
        {
            return $"No mandatory '{claimName}' in claims";
        }

        if (keyClaim.ValueKind != JsonValueKind.String || keyClaim.GetString() is not { Length: > 0 } key)
        {
            return $"Invalid '{claimName}' in claims";
        }

        if (!context.Consumers.TryGetJwtSecret(key, out var consumer, out var secret))
        {
            return $"No credentials found for given '{claimName}'";
        }

        // The token does not choose how it is verified: its alg must be the credential's, exactly
        // (RFC 8725 §3.1), so an HS256 token "signed" with an RSA public key never meets an HMAC check.
        if (!string.Equals(jwt.Algorithm.Name, secret.Algorithm, StringComparison.Ordinal))
        {
            return "Invalid algorithm";
        }

        var verificationKey = _keys.GetOrAdd(
            secret,
            static (s, state) => JwtVerificationKey.Create(s, state.Algorithm, state.Plugin._options.SecretIsBase64, state.Plugin._runtime.Protector),
            (Plugin: this, jwt.Algorithm));
        if (verificationKey is null)
        {
            return "Invalid key/secret";
        }

        if (!VerifySignature(jwt, verificationKey))
        {
            return "Invalid signature";
        }

        var now = _runtime.Time.GetUtcNow();
        var nowSeconds = now.ToUnixTimeMilliseconds() / 1000.0;
        var notBefore = DateTimeOffset.MinValue;
        var notAfter = now + UnverifiedExpiryCacheWindow;
        List<string>? errors = null;
        foreach (var claim in _options.ClaimsToVerify)
        {
            if (!jwt.Payload.TryGetProperty(claim, out var value) || value.ValueKind != JsonValueKind.Number
                || !value.TryGetDouble(out var seconds) || !double.IsFinite(seconds))
            {
                (errors ??= []).Add($"{claim}: must be a number");
            }
            else if (claim == "exp")
            {
                if (seconds <= nowSeconds)
                {
                    (errors ??= []).Add("exp: token expired");
                }

                notAfter = FromUnixSeconds(seconds);
            }
            else if (seconds > nowSeconds)
            {
                (errors ??= []).Add("nbf: token not valid yet");
            }
            else
            {
                notBefore = FromUnixSeconds(seconds);
            }
        }

        if (errors is not null)
        {
            return string.Join("; ", errors);
        }

        if (_options.MaximumExpiration > 0)
        {
            // exp is verified (the schema requires it), so it is a number here.
            var exp = jwt.Payload.GetProperty("exp").GetDouble();
            if (exp - nowSeconds > _options.MaximumExpiration)
            {
                return "exp: exceeds maximum allowed expiration";
            }
        }

        validated = new ValidatedToken(consumer, secret.Key, jwt.ToClaims(), notBefore, notAfter);
        return "";
    }

    private static bool VerifySignature(JwtToken jwt, JwtVerificationKey key)
    {
        var rented = ArrayPool<byte>.Shared.Rent(jwt.SigningInputLength);
        try
        {
            var length = jwt.CopySigningInput(rented);
            return key.Verify(rented.AsSpan(0, length), jwt.Signature);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static DateTimeOffset FromUnixSeconds(double seconds)
    {
        const double Min = -62_135_596_800; // DateTimeOffset.MinValue
        const double Max = 253_402_300_799; // DateTimeOffset.MaxValue
        return seconds <= Min ? DateTimeOffset.MinValue
            : seconds >= Max ? DateTimeOffset.MaxValue
            : DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Floor(seconds * 1000));
    }

    private static PluginResult Succeed(GatewayContext context, ValidatedToken validated)
    {
        context.Request.Claims = validated.Claims;
        return AuthenticationOutcome.Succeed(context, validated.Consumer!, validated.CredentialIdentifier);
    }

    private PluginResult Fail(GatewayContext context, string detail, string challenge) =>
        AuthenticationOutcome.Fail(context, _options.Anonymous, PluginResult.Reject(StatusCodes.Status401Unauthorized, detail, challenge));

    private enum TokenSearch
    {
        None,
        One,
        Multiple,
    }

    /// <summary>
    /// Kong 3.x's retrieve_tokens: query parameters, then cookies, then headers (<c>Bearer</c>, scheme
    /// case-insensitive); empty values ignored; the same token in several places is one token, two
    /// different ones are an error. Every value of a repeated header counts (Kong reads the first only).
    /// </summary>
    private TokenSearch FindToken(HttpRequest request, out string token)
    {
        token = "";
        string? found = null;
        if (_options.UriParamNames.Length > 0 && request.QueryString.HasValue)
        {
            var query = request.Query;
            foreach (var name in _options.UriParamNames)
            {
                foreach (var value in query[name])
                {
                    if (!string.IsNullOrEmpty(value) && !Collect(value, ref found))
                    {
                        return TokenSearch.Multiple;
                    }
                }
            }
        }

        if (_options.CookieNames.Length > 0)
        {
            foreach (var name in _options.CookieNames)
            {
                if (request.Cookies.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) && !Collect(value, ref found))
                {
                    return TokenSearch.Multiple;
                }
            }
        }

        foreach (var name in _options.HeaderNames)
        {
            foreach (var value in request.Headers[name])
            {
                if (TryReadBearer(value, out var bearer) && !Collect(bearer, ref found))
                {
                    return TokenSearch.Multiple;
                }
            }
        }

        if (found is null)
        {
            return TokenSearch.None;
        }

        token = found;
        return TokenSearch.One;
    }

    private static bool Collect(string value, ref string? found)
    {
        if (found is null)
        {
            found = value;
            return true;
        }

        return string.Equals(found, value, StringComparison.Ordinal);
    }

    /// <summary><c>Bearer &lt;token&gt;</c> (RFC 6750 §2.1), leading and trailing whitespace ignored.</summary>
    private static bool TryReadBearer(string? value, out string token)
    {
        token = "";
        var span = value.AsSpan().Trim();
        const string Scheme = "Bearer";
        if (span.Length <= Scheme.Length + 1 || !span.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || span[Scheme.Length] is not (' ' or '\t'))
        {
            return false;
        }

        var rest = span[(Scheme.Length + 1)..].TrimStart();
        if (rest.IsEmpty)
        {
            return false;
        }

        token = rest.ToString();
        return true;
    }
}
