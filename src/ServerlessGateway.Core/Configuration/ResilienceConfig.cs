namespace ServerlessGateway.Configuration;

/// <summary>
/// The service <c>circuit_breaker</c> block, our extension (Kong has none; docs/resilience.md). State is
/// kept per target, so one failing backend never opens another's breaker.
/// </summary>
public sealed record CircuitBreakerConfig
{
    public static readonly IReadOnlyList<int> DefaultFailureStatuses = [500, 502, 503, 504];

    /// <summary>Share of failed exchanges in the sampling window that opens the breaker (0 &lt; ratio &lt;= 1).</summary>
    public double FailureRatio { get; init; } = 0.5;
    /// <summary>Exchanges the window must hold before the ratio is judged.</summary>
    public int MinimumThroughput { get; init; } = 20;
    /// <summary>Seconds.</summary>
    public int SamplingDuration { get; init; } = 30;
    /// <summary>Seconds the breaker stays open before one half-open probe.</summary>
    public int BreakDuration { get; init; } = 15;
    /// <summary>Upstream statuses that count as failures; connect errors and timeouts always do.</summary>
    public IReadOnlyList<int> FailureStatuses { get; init; } = DefaultFailureStatuses;

    /// <summary>A canonical text of the settings: breaker state survives a config reload only while they are unchanged.</summary>
    internal string Signature => $"{FailureRatio.ToString(System.Globalization.CultureInfo.InvariantCulture)}/{MinimumThroughput}/{SamplingDuration}/{BreakDuration}/{string.Join(',', FailureStatuses)}";
}

/// <summary>
/// Kong's upstream <c>healthchecks</c> (https://developer.konghq.com/gateway/traffic-control/health-checks-circuit-breakers/):
/// the fields this gateway implements. Counters set to 0 and intervals set to 0 are disabled, as in Kong.
/// </summary>
public sealed record HealthchecksConfig
{
    public static readonly HealthchecksConfig Default = new();

    public ActiveHealthcheckConfig Active { get; init; } = new();
    public PassiveHealthcheckConfig Passive { get; init; } = new();
}

public sealed record ActiveHealthcheckConfig
{
    /// <summary><c>http</c> or <c>https</c> (Kong's <c>tcp</c>, <c>grpc</c>, <c>grpcs</c> are not implemented).</summary>
    public string Type { get; init; } = "http";
    public string HttpPath { get; init; } = "/";
    /// <summary>Seconds a probe may take.</summary>
    public double Timeout { get; init; } = 1;
    /// <summary>Probes of one upstream running at once.</summary>
    public int Concurrency { get; init; } = 10;
    public HealthyThresholds Healthy { get; init; } = new() { HttpStatuses = [200, 302] };
    public UnhealthyThresholds Unhealthy { get; init; } = new() { HttpStatuses = [429, 404, 500, 501, 502, 503, 504, 505] };

    /// <summary>True when either interval is set: Kong probes only then.</summary>
    public bool Enabled => Healthy.Interval > 0 || Unhealthy.Interval > 0;
}

public sealed record PassiveHealthcheckConfig
{
    public HealthyThresholds Healthy { get; init; } = new()
    {
        HttpStatuses = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308],
    };

    public UnhealthyThresholds Unhealthy { get; init; } = new() { HttpStatuses = [429, 500, 503] };

    /// <summary>True when any unhealthy counter is set: otherwise proxied traffic never takes a target out.</summary>
    public bool Enabled => Unhealthy.HttpFailures > 0 || Unhealthy.TcpFailures > 0 || Unhealthy.Timeouts > 0;
}

public sealed record HealthyThresholds
{
    /// <summary>Seconds between active probes of a healthy target (0: not probed). Active checks only.</summary>
    public double Interval { get; init; }
    public int Successes { get; init; }
    public required IReadOnlyList<int> HttpStatuses { get; init; }
}

public sealed record UnhealthyThresholds
{
    /// <summary>Seconds between active probes of an unhealthy target (0: not probed). Active checks only.</summary>
    public double Interval { get; init; }
    public int HttpFailures { get; init; }
    public int TcpFailures { get; init; }
    public int Timeouts { get; init; }
    public required IReadOnlyList<int> HttpStatuses { get; init; }
}
