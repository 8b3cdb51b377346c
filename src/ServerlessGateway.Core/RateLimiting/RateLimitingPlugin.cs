using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// Kong's <c>rate-limiting</c> (https://docs.konghq.com/hub/kong-inc/rate-limiting/), priority 910. The
/// identifier comes from the authenticated identity or the trusted client address, never from a client
/// header claiming an identity; with no identifier (e.g. no consumer), Kong's fallback to the client IP
/// applies. Counters are keyed by plugin id, the plugin's route and service scope (as Kong's
/// <c>ratelimit:&lt;route&gt;:&lt;service&gt;:&lt;identifier&gt;</c>) and the identifier. The counts live in
/// the process-wide <see cref="RateLimitCounters"/>, so recompiling a snapshot keeps them.
/// </summary>
internal sealed partial class RateLimitingPlugin : GatewayPlugin
{
    private readonly RateLimitSettings _settings;
    private readonly RateLimitCounters _counters;
    private readonly RateLimitPolicy _policy;
    private readonly string _policyTag;
    private readonly string _keyPrefix;

    private RateLimitingPlugin(PluginConfig config, RateLimitSettings settings, RateLimitCounters counters)
        : base(config)
    {
        _settings = settings;
        _counters = counters;
        _policy = settings.Policy != RateLimitPolicy.Local && !counters.HasStore ? RateLimitPolicy.Local : settings.Policy;
        _policyTag = _policy switch
        {
            RateLimitPolicy.Local => "local",
            RateLimitPolicy.Distributed => "distributed",
            _ => "strict",
        };
        _keyPrefix = string.Concat(config.Id, "|", config.Route, "|", config.Service, "|");
    }

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "rate-limiting";

        public override void Validate(MapReader config, PluginValidationContext context) => RateLimitSettings.Read(config, context.Warnings);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime)
        {
            var settings = RateLimitSettings.Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []));
            var counters = runtime.Services.GetRequiredService<RateLimitCounters>();
            if (settings.Policy != RateLimitPolicy.Local && !counters.HasStore)
            {
                LogNoStore(counters.Logger, plugin.Id, settings.PolicyName);
            }

            return new RateLimitingPlugin(plugin, settings, counters);
        }

        /// <summary>Redis settings are accepted with a warning but never stored (nor exported): they may hold a password.</summary>
        public override JsonObject StoredConfig(JsonObject config)
        {
            List<string>? redis = null;
            foreach (var (key, _) in config)
            {
                if (RateLimitSettings.IsRedisField(key))
                {
                    (redis ??= []).Add(key);
                }
            }

            if (redis is null)
            {
                return config;
            }

            var stored = (JsonObject)config.DeepClone();
            foreach (var key in redis)
            {
                stored.Remove(key);
            }

            return stored;
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var http = context.Http;
        if (http.RequestAborted.IsCancellationRequested)
        {
            return ValueTask.FromResult(Finish(context, RateLimitOutcome.Cancelled, [], default));
        }

        var key = string.Concat(_keyPrefix, Identifier(context));
        var now = _counters.Time.GetUtcNow();
        if (_policy == RateLimitPolicy.Strict)
        {
            return StrictAsync(context, key, now, new PeriodUsage[_settings.Limits.Length]);
        }

        // Local and distributed decide from memory, synchronously: no allocation for the per-period results.
        Span<PeriodUsage> usage = stackalloc PeriodUsage[_settings.Limits.Length];
        var outcome = _policy == RateLimitPolicy.Local
            ? _counters.Local.TryAcquire(key, _settings.Limits, _settings.Sliding, now, usage)
            : _counters.Distributed!.TryAcquire(key, _settings.Limits, _settings.Sliding, _settings.SyncInterval, _settings.FaultTolerant, now, usage);
        return ValueTask.FromResult(Finish(context, outcome, usage, now));
    }

    private async ValueTask<PluginResult> StrictAsync(GatewayContext context, string key, DateTimeOffset now, PeriodUsage[] usage)
    {
        var outcome = await _counters.Strict!.TryAcquireAsync(key, _settings.Limits, _settings.FaultTolerant, now, usage, context.Http.RequestAborted);
        return Finish(context, outcome, usage, now);
    }

    /// <summary>Kong's <c>get_identifier</c>: the configured source, else the client address.</summary>
    private string Identifier(GatewayContext context)
    {
        var request = context.Request;
        var identifier = _settings.LimitBy switch
        {
            RateLimitBy.Consumer => Prefixed("consumer:", request.Consumer?.Id) ?? Prefixed("credential:", request.CredentialIdentifier),
            RateLimitBy.Credential => Prefixed("credential:", request.CredentialIdentifier),
            RateLimitBy.Service => Prefixed("service:", request.Match.Route?.Service?.Config.Id),
            RateLimitBy.Header => Prefixed("header:", HeaderValue(context.Http.Request.Headers, _settings.HeaderName!)),
            RateLimitBy.Path => request.Path == _settings.Path ? string.Concat("path:", request.Path) : null,
            _ => null,
        };
        return identifier ?? string.Concat("ip:", request.ClientAddress?.ToString() ?? "unknown");
    }

    private static string? Prefixed(string kind, string? value) => string.IsNullOrEmpty(value) ? null : string.Concat(kind, value);

    private static string? HeaderValue(IHeaderDictionary headers, string name)
    {
        var values = headers[name];
        return values.Count == 0 ? null : values[0];
    }

    private PluginResult Finish(GatewayContext context, RateLimitOutcome outcome, ReadOnlySpan<PeriodUsage> usage, DateTimeOffset now)
    {
        if (outcome == RateLimitOutcome.Cancelled)
        {
            // The client left: neither admitted nor rejected, and nothing to answer.
            return PluginResult.Respond(StatusCodes.Status499ClientClosedRequest);
        }

        _counters.Metrics.RateLimitDecisions.Add(1,
            new KeyValuePair<string, object?>("policy", _policyTag),
            new KeyValuePair<string, object?>("outcome", outcome switch
            {
                RateLimitOutcome.Admitted => "admitted",
                RateLimitOutcome.Rejected => "rejected",
                _ => "unavailable",
            }));

        if (!_settings.HideClientHeaders && outcome is RateLimitOutcome.Admitted or RateLimitOutcome.Rejected)
        {
            // Set before forwarding: the forwarder adds the upstream's headers to these.
            RateLimitHeaders.Write(context.Http.Response.Headers, usage, now);
        }

        return outcome switch
        {
            RateLimitOutcome.Admitted => PluginResult.Continue,
            RateLimitOutcome.Rejected => new PluginResult(_settings.ErrorCode, _settings.ErrorMessage, null, RetryAfter(usage)),
            RateLimitOutcome.Contention => PluginResult.Reject(StatusCodes.Status503ServiceUnavailable,
                "the rate-limit counter is contended by too many concurrent requests; retry shortly"),
            _ => PluginResult.Reject(StatusCodes.Status503ServiceUnavailable,
                "the rate-limit store is unavailable and this plugin is not fault tolerant"),
        };
    }

    /// <summary>The longest wait among the periods that refused, at least one second (Retry-After is never earlier than the reset).</summary>
    private static TimeSpan RetryAfter(ReadOnlySpan<PeriodUsage> usage)
    {
        var retry = TimeSpan.FromSeconds(1);
        foreach (var u in usage)
        {
            if (u.Blocked && u.RetryAfter > retry)
            {
                retry = u.RetryAfter;
            }
        }

        return retry;
    }

    [LoggerMessage(EventId = LogEvents.RateLimitNoStore, Level = LogLevel.Warning,
        Message = "rate-limiting plugin {PluginId} asks for policy {Policy}, but no rate-limit store is configured (DB-less mode): it counts per instance, like policy local")]
    private static partial void LogNoStore(ILogger logger, string pluginId, string policy);
}
