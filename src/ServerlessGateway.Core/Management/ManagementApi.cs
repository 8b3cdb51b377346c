using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Registry;
using ServerlessGateway.Routing;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Management;

/// <summary>
/// The management API under <c>/_gateway</c> (DESIGN.md §5), one entry point both hosts call.
/// Health is anonymous; everything else needs an admin key or an admin bearer token. Every change is
/// a new registry version recording its actor (the key id or the token's subject).
/// </summary>
public sealed class ManagementApi
{
    private readonly ConfigRegistry _registry;
    private readonly AdminAuthenticator _authenticator;
    private readonly ClientAddressResolver _clientAddresses;
    private readonly TimeProvider _time;
    private readonly EntityEndpoints _entities;
    private readonly Observability.PrometheusScrape _metrics;

    internal ManagementApi(ConfigRegistry registry, AdminAuthenticator authenticator, ClientAddressResolver clientAddresses, TimeProvider time, Observability.PrometheusScrape metrics)
    {
        _metrics = metrics;
        _registry = registry;
        _authenticator = authenticator;
        _clientAddresses = clientAddresses;
        _time = time;
        _entities = new EntityEndpoints(registry, time);
    }

    /// <summary>True for paths the management API owns; hosts send those here instead of the proxy.</summary>
    public static bool Owns(PathString path) => GatewayPaths.IsManagement(path.Value ?? "");

    public async Task InvokeAsync(HttpContext context)
    {
        var feature = new GatewayRequestFeature();
        context.Features.Set(feature);
        var segments = (context.Request.Path.Value ?? "")
            .Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1)
            .Select(Uri.UnescapeDataString)
            .ToArray();
        try
        {
            if (!_clientAddresses.Resolve(context, feature))
            {
                throw new AdminProblem(StatusCodes.Status403Forbidden, "requests must arrive through the configured Azure Front Door");
            }

            if (segments is ["health"])
            {
                await HealthAsync(context);
                return;
            }

            var actor = await AuthenticateAsync(context, feature);
            switch (segments)
            {
                case ["config"]:
                    await ConfigAsync(context, actor);
                    break;
                case ["config", "history"]:
                    RequireMethod(context, HttpMethods.Get, HttpMethods.Head);
                    await HistoryAsync(context);
                    break;
                case ["config", "history", var version]:
                    RequireMethod(context, HttpMethods.Get, HttpMethods.Head);
                    await VersionAsync(context, ParseVersion(version));
                    break;
                case ["config", "rollback", var version]:
                    RequireMethod(context, HttpMethods.Post);
                    await RollbackAsync(context, ParseVersion(version), actor);
                    break;
                case ["metrics"]:
                    RequireMethod(context, HttpMethods.Get, HttpMethods.Head);
                    await MetricsAsync(context);
                    break;
                case []:
                    throw new AdminProblem(StatusCodes.Status404NotFound, "no such management endpoint");
                default:
                    await _entities.HandleAsync(context, segments, actor);
                    break;
            }
        }
        catch (AdminProblem problem) when (!context.Response.HasStarted)
        {
            await problem.WriteAsync(context);
        }
        catch (ConfigConflictException) when (!context.Response.HasStarted)
        {
            await new AdminProblem(StatusCodes.Status409Conflict, "the configuration kept changing under this request; retry").WriteAsync(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested
                                   && ex is not (InvalidOperationException or ArgumentException or NullReferenceException))
        {
            // Storage faults degrade the management API, never the proxy.
            _registry.MarkStorage(StorageHealth.Unreachable);
            await new AdminProblem(StatusCodes.Status503ServiceUnavailable, "the config store is unavailable; nothing was changed").WriteAsync(context);
        }
    }

    private async ValueTask<string> AuthenticateAsync(HttpContext context, GatewayRequestFeature feature)
    {
        var result = await _authenticator.AuthenticateAsync(context, feature.ClientAddress);
        switch (result.Outcome)
        {
            case AdminAuthOutcome.Authenticated:
                return result.Actor;
            case AdminAuthOutcome.Locked:
                context.Response.Headers.RetryAfter = Math.Ceiling(result.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                throw new AdminProblem(StatusCodes.Status429TooManyRequests, "too many failed admin authentications from this address");
            case AdminAuthOutcome.Forbidden:
                // RFC 6750 §3.1: a valid token without the privilege the request needs.
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"gateway-admin\", error=\"insufficient_scope\"";
                throw new AdminProblem(StatusCodes.Status403Forbidden, "the bearer token does not carry the admin role");
            case AdminAuthOutcome.Unavailable:
                throw new AdminProblem(StatusCodes.Status503ServiceUnavailable, "the admin token issuer's signing keys could not be loaded; admin keys still work");
            default:
                context.Response.Headers.WWWAuthenticate = _authenticator.TokensEnabled
                    ? new[] { "X-Gateway-Admin-Key", result.Bearer ? "Bearer realm=\"gateway-admin\", error=\"invalid_token\"" : "Bearer realm=\"gateway-admin\"" }
                    : "X-Gateway-Admin-Key";
                throw new AdminProblem(StatusCodes.Status401Unauthorized,
                    result.Bearer ? "the bearer token is not valid: " + result.Description
                    : context.Request.Headers.ContainsKey(AdminAuthenticator.HeaderName) ? "the admin key is not valid"
                    : _authenticator.TokensEnabled ? "an admin key (X-Gateway-Admin-Key) or a bearer token is required"
                    : "an admin key is required (X-Gateway-Admin-Key)");
        }
    }

    private static void RequireMethod(HttpContext context, params string[] allowed)
    {
        if (!allowed.Any(m => string.Equals(m, context.Request.Method, StringComparison.OrdinalIgnoreCase)))
        {
            context.Response.Headers.Allow = string.Join(", ", allowed);
            throw new AdminProblem(StatusCodes.Status405MethodNotAllowed, $"{context.Request.Method} is not allowed here");
        }
    }

    private static long ParseVersion(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? version
            : throw new AdminProblem(StatusCodes.Status404NotFound, $"no config version '{text}'");

    private async Task HealthAsync(HttpContext context)
    {
        RequireMethod(context, HttpMethods.Get, HttpMethods.Head);
        var state = _registry.State;
        var storage = await _registry.CheckStorageAsync();
        var degraded = storage.Health == StorageHealth.Unreachable || (_registry.IsDurable && state?.Source == ConfigSource.File);
        var body = new JsonObject
        {
            ["status"] = state is null ? "unavailable" : degraded ? "degraded" : "ok",
            ["config_version"] = state?.Version,
            ["config_source"] = state?.Source.ToString().ToLowerInvariant() ?? "none",
            ["storage"] = storage.Health switch
            {
                StorageHealth.Ok => "ok",
                StorageHealth.Unreachable => "unreachable",
                _ => "not configured",
            },
        };
        var status = state is null ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = status;
            context.Response.Headers.CacheControl = "no-store";
            return;
        }

        await AdminHttp.WriteJsonAsync(context, status, body);
    }

    private static string ConfigETag(ConfigState? state) =>
        state?.Version is { } v ? $"\"v{v}\"" : "\"file\"";

    private async Task ConfigAsync(HttpContext context, string actor)
    {
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            var state = _registry.State ?? throw new AdminProblem(StatusCodes.Status503ServiceUnavailable, "no configuration is loaded");
            var config = _registry.Protector.Protect(state.Config, []);
            await WriteConfigAsync(context, FilterByTags(config, SelectTags(context)), ConfigETag(state));
            return;
        }

        RequireMethod(context, HttpMethods.Post);
        await ImportAsync(context, actor);
    }

    private static string[] SelectTags(HttpContext context) =>
        context.Request.Query["select_tags"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Task WriteConfigAsync(HttpContext context, GatewayConfig config, string etag)
    {
        var json = context.Request.Headers.Accept.Any(a => AdminHttp.IsJson(a));
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = json ? "application/json; charset=utf-8" : "application/yaml; charset=utf-8";
        context.Response.Headers.ETag = etag;
        context.Response.Headers.CacheControl = "no-store";
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : context.Response.WriteAsync(json ? KongDeclarativeExporter.ToJson(config) : KongDeclarativeExporter.ToYaml(config), context.RequestAborted);
    }

    /// <summary>
    /// Declarative import, all-or-nothing. With <c>select_tags</c> only entities carrying one of those
    /// tags are synced (deck's semantics: the file's entities get the tags; others stay untouched).
    /// </summary>
    private async Task ImportAsync(HttpContext context, string actor)
    {
        var text = await AdminHttp.ReadBodyAsync(context, AdminHttp.MaxConfigBody);
        var parsed = KongDeclarativeParser.Parse(text);
        if (!parsed.IsValid)
        {
            throw new AdminProblem(StatusCodes.Status400BadRequest, $"the configuration has {parsed.Errors.Count} error(s)", parsed.Errors);
        }

        var tags = SelectTags(context);
        var dryRun = string.Equals(context.Request.Query["dry_run"], "true", StringComparison.OrdinalIgnoreCase);
        var now = _time.GetUtcNow();
        var (result, version) = await _registry.UpdateAsync(current =>
        {
            if (!AdminHttp.IfMatchHolds(context, ConfigETag(_registry.State)))
            {
                throw new AdminProblem(StatusCodes.Status412PreconditionFailed, "If-Match does not match the current config version");
            }

            var incoming = tags.Length == 0 ? parsed.Config! : Merge(current, WithTags(parsed.Config!, tags), tags);
            var errors = new List<ConfigIssue>();
            var next = _registry.Protector.Protect(incoming, errors);
            if (errors.Count == 0 && tags.Length > 0)
            {
                // The merged config must hold together (references across tagged and untagged entities).
                var check = KongDeclarativeParser.Parse(KongDeclarativeExporter.ToJson(next));
                errors.AddRange(check.Errors);
            }

            if (errors.Count > 0)
            {
                throw new AdminProblem(StatusCodes.Status400BadRequest, $"the configuration has {errors.Count} error(s)", errors);
            }

            next = ConfigTimestamps.Stamp(current, next, now);
            var diff = ConfigTimestamps.Diff(current, next);
            // An import that changes nothing is not a new version.
            return (dryRun || diff.Count == 0 ? null : next, diff);
        }, new ConfigChange(actor, tags.Length == 0 ? "import" : $"import select_tags={string.Join(',', tags)}", now), context.RequestAborted);

        var published = !dryRun && result.Count > 0;
        var body = new JsonObject { ["dry_run"] = dryRun, ["version"] = dryRun ? null : version, ["changes"] = result };
        if (parsed.Warnings.Count > 0)
        {
            // Accepted but worth knowing: ignored fields (Kong's redis settings), routes the Functions host cannot deliver.
            body["warnings"] = new JsonArray(parsed.Warnings.Select(w => (JsonNode)new JsonObject { ["path"] = w.Path, ["message"] = w.Message }).ToArray());
        }

        if (published)
        {
            context.Response.Headers.Location = $"{GatewayPaths.ManagementPrefix}/config/history/{version}";
        }

        await AdminHttp.WriteJsonAsync(context, published ? StatusCodes.Status201Created : StatusCodes.Status200OK, body, dryRun ? null : $"\"v{version}\"");
    }

    private static bool Tagged(IReadOnlyList<string> entityTags, string[] tags) => entityTags.Any(tags.Contains);

    private static IReadOnlyList<string> AddTags(IReadOnlyList<string> entityTags, string[] tags) =>
        entityTags.Concat(tags.Where(t => !entityTags.Contains(t))).ToList();

    private static GatewayConfig WithTags(GatewayConfig config, string[] tags) => config with
    {
        Services = config.Services.Select(s => s with { Tags = AddTags(s.Tags, tags) }).ToList(),
        Routes = config.Routes.Select(r => r with { Tags = AddTags(r.Tags, tags) }).ToList(),
        Upstreams = config.Upstreams.Select(u => u with { Tags = AddTags(u.Tags, tags) }).ToList(),
        Consumers = config.Consumers.Select(c => c with { Tags = AddTags(c.Tags, tags) }).ToList(),
        Plugins = config.Plugins.Select(p => p with { Tags = AddTags(p.Tags, tags) }).ToList(),
        CaCertificates = config.CaCertificates.Select(c => c with { Tags = AddTags(c.Tags, tags) }).ToList(),
        Certificates = config.Certificates.Select(c => c with { Tags = AddTags(c.Tags, tags) }).ToList(),
    };

    private static GatewayConfig Merge(GatewayConfig current, GatewayConfig incoming, string[] tags) => new()
    {
        Services = [.. current.Services.Where(s => !Tagged(s.Tags, tags)), .. incoming.Services],
        Routes = [.. current.Routes.Where(r => !Tagged(r.Tags, tags)), .. incoming.Routes],
        Upstreams = [.. current.Upstreams.Where(u => !Tagged(u.Tags, tags)), .. incoming.Upstreams],
        Consumers = [.. current.Consumers.Where(c => !Tagged(c.Tags, tags)), .. incoming.Consumers],
        Plugins = [.. current.Plugins.Where(p => !Tagged(p.Tags, tags)), .. incoming.Plugins],
        CaCertificates = [.. current.CaCertificates.Where(c => !Tagged(c.Tags, tags)), .. incoming.CaCertificates],
        Certificates = [.. current.Certificates.Where(c => !Tagged(c.Tags, tags)), .. incoming.Certificates],
    };

    private static GatewayConfig FilterByTags(GatewayConfig config, string[] tags) => tags.Length == 0 ? config : new GatewayConfig
    {
        Services = config.Services.Where(s => Tagged(s.Tags, tags)).ToList(),
        Routes = config.Routes.Where(r => Tagged(r.Tags, tags)).ToList(),
        Upstreams = config.Upstreams.Where(u => Tagged(u.Tags, tags)).ToList(),
        Consumers = config.Consumers.Where(c => Tagged(c.Tags, tags)).ToList(),
        Plugins = config.Plugins.Where(p => Tagged(p.Tags, tags)).ToList(),
        CaCertificates = config.CaCertificates.Where(c => Tagged(c.Tags, tags)).ToList(),
        Certificates = config.Certificates.Where(c => Tagged(c.Tags, tags)).ToList(),
    };

    private async Task HistoryAsync(HttpContext context)
    {
        var versions = await _registry.Store.ListVersionsAsync(context.RequestAborted);
        var current = _registry.State?.Version;
        var data = new JsonArray(versions.Select(v => (JsonNode?)new JsonObject
        {
            ["version"] = v.Version,
            ["created_at"] = v.CreatedAt.ToUnixTimeSeconds(),
            ["actor"] = v.Actor,
            ["action"] = v.Action,
            ["sha256"] = v.Sha256,
            ["size"] = v.Size,
            ["current"] = v.Version == current,
        }).ToArray());
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["data"] = data, ["next"] = null });
    }

    private async Task VersionAsync(HttpContext context, long version)
    {
        var config = await _registry.LoadVersionAsync(version, context.RequestAborted)
            ?? throw new AdminProblem(StatusCodes.Status404NotFound, $"no config version {version}");
        await WriteConfigAsync(context, config, $"\"v{version}\"");
    }

    /// <summary>Publishes an older version's document again as the newest version: history stays linear.</summary>
    private async Task RollbackAsync(HttpContext context, long version, string actor)
    {
        var target = await _registry.LoadVersionAsync(version, context.RequestAborted)
            ?? throw new AdminProblem(StatusCodes.Status404NotFound, $"no config version {version}");
        var now = _time.GetUtcNow();
        var (diff, published) = await _registry.UpdateAsync(current => (target, ConfigTimestamps.Diff(current, target)),
            new ConfigChange(actor, $"rollback to {version}", now), context.RequestAborted);
        await AdminHttp.WriteJsonAsync(context, StatusCodes.Status200OK,
            new JsonObject { ["version"] = published, ["rolled_back_to"] = version, ["changes"] = diff }, $"\"v{published}\"");
    }

    private async Task MetricsAsync(HttpContext context)
    {
        var state = _registry.State;
        var storage = await _registry.CheckStorageAsync();
        var text = new StringBuilder()
            .AppendLine("# HELP gateway_config_version The config version this instance serves (0: from the config file).")
            .AppendLine("# TYPE gateway_config_version gauge")
            .AppendLine(CultureInfo.InvariantCulture, $"gateway_config_version {state?.Version ?? 0}")
            .AppendLine("# HELP gateway_config_loaded Whether a config is being served.")
            .AppendLine("# TYPE gateway_config_loaded gauge")
            .AppendLine(CultureInfo.InvariantCulture, $"gateway_config_loaded {(state is null ? 0 : 1)}")
            .AppendLine("# HELP gateway_storage_up Whether the config store answered at the last check (1 also when none is configured).")
            .AppendLine("# TYPE gateway_storage_up gauge")
            .AppendLine(CultureInfo.InvariantCulture, $"gateway_storage_up {(storage.Health == StorageHealth.Unreachable ? 0 : 1)}")
            .AppendLine("# HELP gateway_routes The routes in the served config.")
            .AppendLine("# TYPE gateway_routes gauge")
            .AppendLine(CultureInfo.InvariantCulture, $"gateway_routes {state?.Config.Routes.Count ?? 0}")
            .Append(_metrics.Collect())
            .ToString();
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.WriteAsync(text, context.RequestAborted);
        }
    }
}
