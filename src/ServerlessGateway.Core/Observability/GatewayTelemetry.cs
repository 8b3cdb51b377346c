using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ServerlessGateway.Observability;

/// <summary>
/// OpenTelemetry for both hosts (issue 8). Metrics: the gateway meter always feeds
/// <c>GET /_gateway/metrics</c> (Prometheus text) and, when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, OTLP.
/// Traces: on when <c>Gateway:Tracing:Enabled</c> is true, which it is by default whenever an exporter is
/// configured (OTLP, or Application Insights on the Functions host); a server span per request (ASP.NET Core's),
/// child spans for authentication, rate limiting and the upstream call, W3C context to the backend.
/// Without an exporter nothing listens, so tracing costs nothing.
/// </summary>
internal static class GatewayTelemetry
{
    public const string ActivitySourceName = "ServerlessGateway";

    public static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>Histogram buckets in seconds, from sub-millisecond gateway work up to the Functions platform's 230 s.</summary>
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 230];

    public static void Add(IServiceCollection services, IConfiguration configuration, TracingOptions tracing)
    {
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        services.AddSingleton<PrometheusScrape>();
        var telemetry = services.AddOpenTelemetry();
        telemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter(GatewayMetrics.MeterName)
                .AddView("gateway.*duration", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
                .AddReader(sp => sp.GetRequiredService<PrometheusScrape>().Reader);
            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
        });

        var tracingEnabled = tracing.Enabled
            ?? (otlp || !string.IsNullOrWhiteSpace(configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]));
        if (!tracingEnabled)
        {
            return;
        }

        telemetry.WithTracing(traces =>
        {
            // ASP.NET Core's own activity is the server span; the gateway adds its children and tags.
            // HttpClient's span is recorded too: it is the parent the backend sees in traceparent.
            traces.AddSource(ActivitySourceName, "Microsoft.AspNetCore", "System.Net.Http")
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(tracing.SampleRatio)));
            if (otlp)
            {
                traces.AddOtlpExporter();
            }
        });
    }

    /// <summary>Tags the server span (when one is recorded) with the route and service; never credentials.</summary>
    public static void TagRoute(Activity? server, string? route, string? service)
    {
        if (server is { IsAllDataRequested: true })
        {
            server.SetTag("http.route", route);
            server.SetTag("gateway.route", route);
            server.SetTag("gateway.service", service);
        }
    }
}

/// <summary>The <c>Gateway:Tracing</c> section.</summary>
public sealed class TracingOptions
{
    /// <summary>Null: on when an exporter is configured (OTLP endpoint or Application Insights).</summary>
    public bool? Enabled { get; set; }

    /// <summary>Share of new traces recorded (parent-based: a sampled incoming <c>traceparent</c> is always followed).</summary>
    public double SampleRatio { get; set; } = 1.0;
}
