using System.Globalization;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Observability;

namespace ServerlessGateway.RateLimiting;

/// <summary>Where counts live (docs/rate-limiting.md states the guarantee of each).</summary>
internal enum RateLimitPolicy
{
    /// <summary>Kong's <c>local</c>: exact, per instance; the effective limit grows with the number of instances.</summary>
    Local,

    /// <summary>Kong's <c>cluster</c> and <c>redis</c>: counted locally, synced to the shared store in the background.</summary>
    Distributed,

    /// <summary>Our extension: one conditional store write per request and period; never above the limit.</summary>
    Strict,
}

/// <summary>Kong's <c>limit_by</c>.</summary>
internal enum RateLimitBy
{
    Consumer,
    Credential,
    Ip,
    Service,
    Header,
    Path,
}

/// <summary>One configured period and its limit.</summary>
internal readonly record struct PeriodLimit(RateLimitPeriod Period, long Limit);

/// <summary>
/// A <c>rate-limiting</c> config, validated once at import (Kong 3.x schema:
/// https://docs.konghq.com/hub/kong-inc/rate-limiting/configuration/). <see cref="Limits"/> is ordered
/// from the shortest period to the longest, which is also the order <c>strict</c> checks them in.
/// </summary>
internal sealed record RateLimitSettings(
    PeriodLimit[] Limits,
    RateLimitBy LimitBy,
    string? HeaderName,
    string? Path,
    RateLimitPolicy Policy,
    string PolicyName,
    bool FaultTolerant,
    bool HideClientHeaders,
    int ErrorCode,
    string ErrorMessage,
    TimeSpan? SyncInterval,
    bool Sliding)
{
    private static readonly string[] PeriodNames = ["second", "minute", "hour", "day", "month", "year"];

    /// <summary>Kong's name of a period (<c>minute</c>), as config fields and the IETF policy names use it.</summary>
    public static string NameOf(RateLimitPeriod period) => PeriodNames[(int)period];

    /// <summary>
    /// Fields of Kong's Redis connection (<c>redis: {...}</c> and the deprecated <c>redis_*</c> shorthands):
    /// accepted with a warning and never stored, so a Redis password does not reach storage or exports.
    /// </summary>
    public static bool IsRedisField(string name) => name == "redis" || name.StartsWith("redis_", StringComparison.Ordinal);

    public static RateLimitSettings Read(MapReader config, List<ConfigIssue>? warnings = null)
    {
        var limits = new List<PeriodLimit>(PeriodNames.Length);
        for (var i = 0; i < PeriodNames.Length; i++)
        {
            if (ReadLimit(config, PeriodNames[i]) is { } limit)
            {
                limits.Add(new((RateLimitPeriod)i, limit));
            }
        }

        if (limits.Count == 0 && !HasAnyPeriod(config))
        {
            config.Error("minute", "at least one of 'second', 'minute', 'hour', 'day', 'month' or 'year' must be set");
        }

        // Kong's validate_periods_order: a longer period may not allow fewer requests than a shorter one.
        for (var i = 0; i < limits.Count; i++)
        {
            for (var j = i + 1; j < limits.Count; j++)
            {
                if (limits[j].Limit < limits[i].Limit)
                {
                    config.Error(NameOf(limits[j].Period), string.Format(
                        CultureInfo.InvariantCulture,
                        "the limit for {0} ({1}) cannot be lower than the limit for {2} ({3})",
                        NameOf(limits[j].Period), limits[j].Limit, NameOf(limits[i].Period), limits[i].Limit));
                }
            }
        }

        var limitBy = config.String("limit_by") switch
        {
            null or "consumer" => RateLimitBy.Consumer,
            "credential" => RateLimitBy.Credential,
            "ip" => RateLimitBy.Ip,
            "service" => RateLimitBy.Service,
            "header" => RateLimitBy.Header,
            "path" => RateLimitBy.Path,
            _ => Invalid(config, "limit_by", "expected one of: consumer, credential, ip, service, header, path", RateLimitBy.Consumer),
        };

        var headerName = config.String("header_name");
        if (headerName is not null && (headerName.Length == 0 || !CorrelationIdPlugin.IsToken(headerName)))
        {
            config.Error("header_name", $"'{headerName}' is not a valid header name");
        }
        else if (limitBy == RateLimitBy.Header && headerName is null)
        {
            config.Error("header_name", "required when limit_by is 'header'");
        }

        var path = config.String("path");
        if (path is not null && !path.StartsWith('/'))
        {
            config.Error("path", "must start with '/'");
        }
        else if (limitBy == RateLimitBy.Path && path is null)
        {
            config.Error("path", "required when limit_by is 'path'");
        }

        var policyName = config.String("policy") ?? "local";
        var policy = policyName switch
        {
            "local" => RateLimitPolicy.Local,
            "cluster" or "redis" or "distributed" => RateLimitPolicy.Distributed,
            "strict" => RateLimitPolicy.Strict,
            _ => Invalid(config, "policy", "expected one of: local, cluster, redis, distributed, strict", RateLimitPolicy.Local),
        };

        var syncInterval = ReadSyncRate(config, policy);
        var sliding = config.String("window_type") switch
        {
            null or "fixed" => false,
            "sliding" => true,
            _ => Invalid(config, "window_type", "expected one of: fixed, sliding", false),
        };
        if (sliding && policy == RateLimitPolicy.Strict)
        {
            config.Error("window_type", "'sliding' is not available with policy 'strict' (one conditional write per request counts a fixed window only)");
        }

        var settings = new RateLimitSettings(
            [.. limits],
            limitBy,
            headerName,
            path,
            policy,
            policyName,
            config.Bool("fault_tolerant", true),
            config.Bool("hide_client_headers", false),
            config.Int("error_code", StatusCodes.Status429TooManyRequests, 100, 599),
            config.String("error_message") ?? "API rate limit exceeded",
            syncInterval,
            sliding);

        foreach (var (key, _) in config.Entries)
        {
            if (IsRedisField(key))
            {
                config.Ignore(key);
                warnings?.Add(new(config.At(key), "Redis settings are ignored: this gateway keeps shared counters in its own store (policy 'redis' counts as 'distributed'); the field is not stored"));
            }
        }

        config.Finish();
        return settings;
    }

    private static long? ReadLimit(MapReader config, string key)
    {
        var node = config.Get(key);
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return null;
        }

        // Kong's type is number (gt 0); a request count is whole, so 1000.0 is read as 1000.
        if (node.Kind == ConfigNodeKind.Scalar && !node.Quoted
            && double.TryParse(node.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            && value >= 1 && value <= long.MaxValue / 2 && value == Math.Floor(value))
        {
            return (long)value;
        }

        config.Error(key, $"expected a whole number of requests greater than 0, got {node.Describe()}");
        return null;
    }

    private static bool HasAnyPeriod(MapReader config)
    {
        foreach (var name in PeriodNames)
        {
            if (config.Has(name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Kong's <c>sync_rate</c> in seconds: -1 (the default) means "synchronous" in Kong; here the distributed
    /// policy never writes on the request path, so -1 selects the default interval (docs/rate-limiting.md).
    /// </summary>
    private static TimeSpan? ReadSyncRate(MapReader config, RateLimitPolicy policy)
    {
        var node = config.Get("sync_rate");
        if (node is null || node.Kind == ConfigNodeKind.Null)
        {
            return null;
        }

        if (node.Kind != ConfigNodeKind.Scalar || node.Quoted
            || !double.TryParse(node.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds))
        {
            config.Error("sync_rate", $"expected a number, got {node.Describe()}");
            return null;
        }

        if (seconds == -1)
        {
            return null;
        }

        if (seconds < 0.02 || seconds > 3600)
        {
            config.Error("sync_rate", "must be -1 (the default interval) or between 0.02 and 3600 seconds");
            return null;
        }

        if (policy != RateLimitPolicy.Distributed)
        {
            config.Error("sync_rate", "applies to the distributed policies only (cluster, redis, distributed), as in Kong");
            return null;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static T Invalid<T>(MapReader config, string key, string message, T fallback)
    {
        config.Error(key, message);
        return fallback;
    }
}
