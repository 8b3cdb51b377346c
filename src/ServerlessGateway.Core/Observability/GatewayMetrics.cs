using System.Diagnostics.Metrics;

namespace ServerlessGateway.Observability;

/// <summary>
/// The gateway's one <see cref="Meter"/> (DESIGN.md §2, issue 8), made through <see cref="IMeterFactory"/>
/// so that each host (and each test gateway in one process) has its own instruments. Features record
/// on the instruments here; exporters (OTLP, Azure Monitor, <c>/_gateway/metrics</c>) listen to the meter.
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "ServerlessGateway";

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(MeterName);
        ResponseBodiesPassedThrough = Meter.CreateCounter<long>(
            "gateway.response_transformer.passthrough", "{response}",
            "Responses whose body response-transformer left untouched (tag reason: content_type, content_encoding, size).");
        RateLimitDecisions = Meter.CreateCounter<long>(
            "gateway.rate_limit.decisions", "{request}",
            "Rate-limiting decisions (tags policy: local, distributed, strict; outcome: admitted, rejected, unavailable).");
        RequestDuration = Meter.CreateHistogram<double>(
            "gateway.request.duration", "s",
            "Proxied requests from arrival to the end of the response (tags gateway.route, gateway.service, http.response.status_class).");
        UpstreamDuration = Meter.CreateHistogram<double>(
            "gateway.upstream.duration", "s",
            "Time from sending a request upstream to its response headers (same tags).");
        CircuitBreakerTransitions = Meter.CreateCounter<long>(
            "gateway.circuit_breaker.transitions", "{transition}",
            "Circuit breaker state changes (tags service, target, state: open, half_open, closed).");
        UpstreamRetries = Meter.CreateCounter<long>(
            "gateway.upstream.retries", "{retry}",
            "Retries after connect errors (tags service; outcome: retried, budget_exhausted).");
        TargetHealthTransitions = Meter.CreateCounter<long>(
            "gateway.upstream.target_health.transitions", "{transition}",
            "Upstream target health changes (tags upstream, target, state: healthy, unhealthy; check: active, passive, recovery).");
        TableTransactions = Meter.CreateCounter<long>(
            "gateway.table.transactions", "{transaction}",
            "Requests made to Table Storage (tags store: config, rate_limit; operation).");
    }

    public Meter Meter { get; }

    public Histogram<double> RequestDuration { get; }

    public Histogram<double> UpstreamDuration { get; }

    public Counter<long> ResponseBodiesPassedThrough { get; }

    public Counter<long> RateLimitDecisions { get; }

    public Counter<long> TableTransactions { get; }

    public Counter<long> CircuitBreakerTransitions { get; }

    public Counter<long> UpstreamRetries { get; }

    public Counter<long> TargetHealthTransitions { get; }
}
