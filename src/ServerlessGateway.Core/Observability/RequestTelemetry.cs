using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Observability;

/// <summary>
/// What the gateway records when a proxied request ends: the access log line (category
/// <c>ServerlessGateway.AccessLog</c>, one structured event per request, nothing secret: the path
/// without its query, which may carry API keys) and the request and upstream latency histograms.
/// </summary>
internal sealed partial class RequestTelemetry
{
    public const string AccessLogCategory = "ServerlessGateway.AccessLog";

    private readonly ILogger _accessLog;
    private readonly GatewayMetrics _metrics;

    public RequestTelemetry(ILoggerFactory loggers, GatewayMetrics metrics, bool accessLog)
    {
        _accessLog = accessLog ? loggers.CreateLogger(AccessLogCategory) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _metrics = metrics;
    }

    /// <summary>
    /// Called before forwarding: when the access log is on, a request body without a Content-Length is
    /// counted as it streams, and the transformer is told to count such a response body too.
    /// </summary>
    public void BeforeForwarding(HttpContext context, GatewayRequestFeature feature)
    {
        if (!_accessLog.IsEnabled(LogLevel.Information))
        {
            return;
        }

        feature.CountBodies = true;
        var request = context.Request;
        if (request.ContentLength is null
            && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            feature.RequestBodyCounter = new CountingStream(request.Body);
            request.Body = feature.RequestBodyCounter;
        }
    }

    /// <summary>Called once per proxied request, after the response was written (or the client left).</summary>
    public void RequestCompleted(HttpContext context, GatewayRequestFeature feature, long startTimestamp)
    {
        var duration = Stopwatch.GetElapsedTime(startTimestamp);
        double? upstreamMs = feature.UpstreamHeadersTimestamp != 0
            ? Stopwatch.GetElapsedTime(feature.UpstreamStartTimestamp, feature.UpstreamHeadersTimestamp).TotalMilliseconds
            : null;
        var route = feature.Match.Route;
        var routeName = route?.Config.Name ?? route?.Config.Id;
        var serviceName = route?.Service?.Config.Name ?? route?.Service?.Config.Id;
        var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;

        if (_metrics.RequestDuration.Enabled || _metrics.UpstreamDuration.Enabled)
        {
            var tags = new TagList
            {
                { "gateway.route", routeName },
                { "gateway.service", serviceName },
                { "http.response.status_class", StatusClass(status) },
            };
            _metrics.RequestDuration.Record(duration.TotalSeconds, tags);
            if (upstreamMs is { } ms)
            {
                _metrics.UpstreamDuration.Record(ms / 1000, tags);
            }
        }

        if (_accessLog.IsEnabled(LogLevel.Information))
        {
            var consumer = feature.Consumer;
            LogRequest(
                _accessLog,
                context.Request.Method,
                feature.Path,
                status,
                duration.TotalMilliseconds,
                upstreamMs,
                routeName,
                serviceName,
                consumer?.Username ?? consumer?.CustomId ?? consumer?.Id,
                feature.ClientAddress?.ToString(),
                feature.RequestId,
                feature.CorrelationId,
                context.Request.ContentLength ?? feature.RequestBodyCounter?.Count,
                context.Response.ContentLength ?? feature.ResponseBodyCounter?.Count);
        }
    }

    private static string StatusClass(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };

    // Bytes: the Content-Length of each direction, or what was counted of a chunked body (absent when nothing was forwarded).
    [LoggerMessage(EventId = LogEvents.AccessLog, Level = LogLevel.Information,
        Message = "{Method} {Path} {Status} {DurationMs:0.###} ms upstream={UpstreamMs} ms route={Route} service={Service} consumer={Consumer} client={ClientIp} request_id={RequestId} correlation_id={CorrelationId} bytes_in={BytesIn} bytes_out={BytesOut}")]
    private static partial void LogRequest(
        ILogger logger, string method, string path, int status, double durationMs, double? upstreamMs, string? route, string? service,
        string? consumer, string? clientIp, string requestId, string? correlationId, long? bytesIn, long? bytesOut);
}
