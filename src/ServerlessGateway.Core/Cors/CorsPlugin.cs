using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using ServerlessGateway.Authentication;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Cors;

/// <summary>
/// Kong's <c>cors</c> (https://docs.konghq.com/hub/kong-inc/cors/): a preflight (OPTIONS with
/// <c>Origin</c> and <c>Access-Control-Request-Method</c>) is answered by the gateway with 200 unless
/// <c>preflight_continue</c>; other requests are forwarded and get the CORS headers on the response.
/// Origins are plain (<c>scheme://host[:port]</c>, default ports ignored), <c>*</c>, or regexes matched
/// against the whole origin (or the host alone when the regex has no <c>:</c>), as Kong matches them.
/// One deviation: a request whose origin is not allowed gets no <c>Access-Control-*</c> header at all
/// (Kong still sends some without <c>Access-Control-Allow-Origin</c>, which browsers ignore anyway).
/// </summary>
internal sealed class CorsPlugin(CorsPlugin.Options options, PluginConfig config) : GatewayPlugin(config)
{
    private static readonly string[] KongMethods = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"];
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    /// <param name="AllowAll">No origins, or <c>*</c> among them.</param>
    /// <param name="Origins">Plain origins, normalized.</param>
    /// <param name="Patterns">Regex origins; <c>ByHost</c> when the pattern has no <c>:</c> (Kong then matches the host only).</param>
    internal sealed record Options(
        bool AllowAll,
        HashSet<string> Origins,
        (Regex Regex, bool ByHost)[] Patterns,
        string Methods,
        string? Headers,
        string? ExposedHeaders,
        bool Credentials,
        string? MaxAge,
        bool PreflightContinue,
        bool AllowOriginAbsent);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "cors";

        /// <summary>Kong's no_consumer: cors runs before authentication has named a consumer.</summary>
        public override bool NoConsumer => true;

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new CorsPlugin(Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", [])), plugin);

        private static Options Read(MapReader config)
        {
            var allowAll = false;
            var origins = new HashSet<string>(StringComparer.Ordinal);
            var patterns = new List<(Regex, bool)>();
            var originList = config.StringList("origins");
            for (var i = 0; i < originList.Count; i++)
            {
                var entry = originList[i];
                if (entry == "*")
                {
                    allowAll = true;
                }
                else if (IsPlainOrigin(entry))
                {
                    origins.Add(Normalize(entry));
                }
                else if (TryCompile(entry, out var regex, out var error))
                {
                    patterns.Add((regex!, !entry.Contains(':', StringComparison.Ordinal)));
                }
                else
                {
                    config.Error($"origins[{i}]", error);
                }
            }

            allowAll |= originList.Count == 0;

            var methods = config.Has("methods") ? config.StringList("methods") : KongMethods;
            foreach (var method in methods)
            {
                if (Array.IndexOf(KongMethods, method) < 0)
                {
                    config.Error("methods", $"'{method}' is not one of {string.Join(", ", KongMethods)}");
                }
            }

            var headers = HeaderValues(config, "headers");
            var exposed = HeaderValues(config, "exposed_headers");
            var maxAge = config.Has("max_age") ? config.Int("max_age", 0, 0, int.MaxValue) : (int?)null;

            var options = new Options(
                allowAll,
                origins,
                [.. patterns],
                string.Join(',', methods),
                headers,
                exposed,
                config.Bool("credentials", false),
                maxAge?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                config.Bool("preflight_continue", false),
                config.Bool("allow_origin_absent", true));
            config.KongDefault("private_network", "false", "Access-Control-Allow-Private-Network is not supported");
            config.Finish();
            return options;
        }

        /// <summary>A list of header names joined as Kong sends them (comma, no space); null when empty.</summary>
        private static string? HeaderValues(MapReader config, string key)
        {
            var values = config.StringList(key);
            foreach (var value in values)
            {
                if (value.Length == 0 || value.Any(c => c < ' ' || c >= 127 || c == ','))
                {
                    config.Error(key, $"'{value}' is not a valid header name");
                }
            }

            return values.Count == 0 ? null : string.Join(',', values);
        }

        private static bool TryCompile(string entry, out Regex? regex, out string error)
        {
            // Kong anchors origin regexes at both ends, dropping a user's own leading '^'.
            var pattern = entry.StartsWith('^') ? entry[1..] : entry;
            var anchored = "^(?:" + pattern + ")$";
            regex = null;
            try
            {
                Probe(new Regex(anchored, RegexOptions.CultureInvariant, ProbeTimeout), pattern);
                regex = new Regex(anchored, RegexOptions.CultureInvariant | RegexOptions.Compiled, MatchTimeout);
                error = "";
                return true;
            }
            catch (ArgumentException ex)
            {
                error = $"'{entry}' is not a valid regex: {ex.Message}";
                return false;
            }
            catch (RegexMatchTimeoutException)
            {
                error = $"regex '{entry}' backtracks catastrophically (it exceeded {ProbeTimeout.TotalMilliseconds} ms on a short adversarial input)";
                return false;
            }
        }
    }

    /// <summary>
    /// Throws <see cref="RegexMatchTimeoutException"/> when the pattern backtracks catastrophically on
    /// short adversarial origins (as route regexes are probed), instead of timing out per request.
    /// </summary>
    private static void Probe(Regex probe, string pattern)
    {
        var chars = new HashSet<char>("a0.-:/");
        foreach (var c in pattern)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '/')
            {
                chars.Add(c);
            }
        }

        foreach (var c in chars)
        {
            var input = new string(c, 48) + "\u0001!";
            probe.IsMatch(input);
            probe.IsMatch("https://" + input);
        }
    }

    /// <summary>Kong's test for an entry that is not a regex: only letters, digits and <c>.:/-</c>.</summary>
    internal static bool IsPlainOrigin(string entry) =>
        entry.Length > 0 && entry.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or ':' or '/' or '-');

    /// <summary>Kong's origin normalization: <c>scheme://host[:port]</c> without http's 80 and https's 443.</summary>
    internal static string Normalize(string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return origin;
        }

        var defaultPort = uri.Scheme switch { "http" => 80, "https" => 443, _ => -1 };
        var explicitPort = uri.Port >= 0 && uri.Port != defaultPort;
        return explicitPort ? $"{uri.Scheme}://{uri.Host}:{uri.Port}" : $"{uri.Scheme}://{uri.Host}";
    }

    private static string HostOf(string normalized)
    {
        var start = normalized.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return normalized;
        }

        var host = normalized[(start + 3)..];
        var colon = host.LastIndexOf(':');
        return colon >= 0 && host.IndexOf(']', colon) < 0 ? host[..colon] : host;
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var http = context.Http;
        var origin = http.Request.Headers.Origin;
        if (AuthenticationOutcome.IsPreflight(http.Request))
        {
            // Kong adds no response header to a preflight it forwards: the backend answers it.
            return ValueTask.FromResult(options.PreflightContinue ? PluginResult.Continue : Preflight(http, origin.ToString()));
        }

        if (origin.Count == 0 && !options.AllowOriginAbsent)
        {
            return ValueTask.FromResult(PluginResult.Continue);
        }

        http.Response.OnStarting(static state =>
        {
            var (plugin, context) = ((CorsPlugin, HttpContext))state;
            plugin.AddActualHeaders(context.Response.Headers, context.Request.Headers.Origin);
            return Task.CompletedTask;
        }, (this, http));
        return ValueTask.FromResult(PluginResult.Continue);
    }

    private PluginResult Preflight(HttpContext http, string origin)
    {
        var headers = http.Response.Headers;
        var allowed = AllowedOrigin(headers, origin);
        if (allowed is not null)
        {
            headers.AccessControlAllowOrigin = allowed;
            if (options.Credentials)
            {
                headers.AccessControlAllowCredentials = "true";
            }

            var requested = http.Request.Headers.AccessControlRequestHeaders;
            if (options.Headers is not null)
            {
                headers.AccessControlAllowHeaders = options.Headers;
            }
            else if (requested.Count > 0)
            {
                headers.AccessControlAllowHeaders = requested;
            }

            headers.AccessControlAllowMethods = options.Methods;
            if (options.MaxAge is not null)
            {
                headers.AccessControlMaxAge = options.MaxAge;
            }
        }

        return PluginResult.Respond(StatusCodes.Status200OK);
    }

    /// <summary>Kong's header_filter: set on the backend's response (replacing what it sent), Vary appended.</summary>
    private void AddActualHeaders(IHeaderDictionary headers, StringValues origin)
    {
        headers.Remove(HeaderNames.AccessControlAllowOrigin);
        headers.Remove(HeaderNames.AccessControlAllowCredentials);
        headers.Remove(HeaderNames.AccessControlExposeHeaders);
        var allowed = origin.Count == 0 ? AllowedWithoutOrigin(headers) : AllowedOrigin(headers, origin.ToString());
        if (allowed is null)
        {
            return;
        }

        headers.AccessControlAllowOrigin = allowed;
        if (options.Credentials && origin.Count > 0)
        {
            headers.AccessControlAllowCredentials = "true";
        }

        if (options.ExposedHeaders is not null)
        {
            headers.AccessControlExposeHeaders = options.ExposedHeaders;
        }
    }

    /// <summary>allow_origin_absent (Kong's default true): without an Origin only <c>*</c> can be sent; Vary still tells caches.</summary>
    private string? AllowedWithoutOrigin(IHeaderDictionary headers)
    {
        if (options.AllowAll)
        {
            return "*";
        }

        AddVary(headers);
        return null;
    }

    /// <summary>The Access-Control-Allow-Origin value for <paramref name="origin"/>, or null when it is not allowed.</summary>
    private string? AllowedOrigin(IHeaderDictionary headers, string origin)
    {
        if (options.AllowAll)
        {
            if (!options.Credentials)
            {
                return "*";
            }

            // Kong: credentials cannot go with '*' (Fetch standard), so the origin is echoed.
            AddVary(headers);
            return origin;
        }

        // Kong always sends Vary: Origin when the answer depends on the origin (caches key on it).
        AddVary(headers);
        if (options.Origins.Contains(origin))
        {
            return origin;
        }

        var normalized = Normalize(origin);
        if (options.Origins.Contains(normalized))
        {
            return normalized;
        }

        foreach (var (regex, byHost) in options.Patterns)
        {
            try
            {
                if (regex.IsMatch(byHost ? HostOf(normalized) : normalized))
                {
                    return normalized;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pattern that times out does not allow the origin.
            }
        }

        return null;
    }

    private static void AddVary(IHeaderDictionary headers)
    {
        foreach (var value in headers.Vary)
        {
            if (value is not null && value.Contains("Origin", StringComparison.OrdinalIgnoreCase))
            {
                return;
            }
        }

        headers.Append(HeaderNames.Vary, "Origin");
    }
}
