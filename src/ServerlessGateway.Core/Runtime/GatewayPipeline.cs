using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Forwarding;
using Polly;
using Polly.CircuitBreaker;
using ServerlessGateway.Plugins;
using ServerlessGateway.Resilience;
using ServerlessGateway.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Runtime;

/// <summary>
/// The request path both hosts call (DESIGN.md §2): client address, canonical path, route match
/// on the current snapshot, then forwarding. Each stage's outcome is a value; this class alone maps
/// outcomes to HTTP statuses and problem+json.
/// </summary>
public sealed partial class GatewayPipeline
{
    private const string AllowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
    private static readonly UriCreationOptions UriOptions = new() { DangerousDisablePathAndQueryCanonicalization = true };
    private readonly GatewaySnapshotProvider _snapshots;
    private readonly ClientAddressResolver _clientAddresses;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _upstreamClient;
    private readonly PluginRuntime _pluginRuntime;
    private readonly Observability.RequestTelemetry _telemetry;
    private readonly ResilienceRuntime _resilience;
    private readonly ILogger<GatewayPipeline> _logger;

    internal GatewayPipeline(
        GatewaySnapshotProvider snapshots,
        ClientAddressResolver clientAddresses,
        IHttpForwarder forwarder,
        UpstreamClient upstreamClient,
        PluginRuntime pluginRuntime,
        Observability.RequestTelemetry telemetry,
        ResilienceRuntime resilience,
        ILogger<GatewayPipeline> logger)
    {
        _resilience = resilience;
        _telemetry = telemetry;
        _pluginRuntime = pluginRuntime;
        _snapshots = snapshots;
        _clientAddresses = clientAddresses;
        _forwarder = forwarder;
        _upstreamClient = upstreamClient.Invoker;
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var feature = new GatewayRequestFeature();
        context.Features.Set(feature);
        try
        {
            await ProxyAsync(context, feature);
        }
        finally
        {
            _telemetry.RequestCompleted(context, feature, started);
        }
    }

    private Task ProxyAsync(HttpContext context, GatewayRequestFeature feature)
    {
        if (!_clientAddresses.Resolve(context, feature))
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status403Forbidden, "requests must arrive through the configured Azure Front Door");
        }

        var snapshot = _snapshots.Current;
        if (snapshot is null)
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "the gateway has no configuration to serve");
        }

        var request = context.Request;
        if (HttpMethods.IsTrace(request.Method) || HttpMethods.IsConnect(request.Method))
        {
            // As Kong's nginx does (405 for both): TRACE reflects requests, credentials included, back to
            // the caller (cross-site tracing), and the gateway is no forward proxy for CONNECT tunnels.
            context.Response.Headers.Allow = AllowedMethods;
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "the gateway does not proxy TRACE or CONNECT");
        }

        if (request.ContentLength > context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize)
        {
            // Kestrel only objects once the body is read, which YARP does after the upstream got the request
            // headers: a body that can never be accepted must not reach the backend at all.
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "the request body is larger than the gateway accepts");
        }

        if (!TrySplitTarget(context, out var rawPath, out var query))
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status400BadRequest, "the request target must be a path (origin form)");
        }

        var pathError = PathCanonicalizer.TryCanonicalize(rawPath, out var path);
        if (pathError != CanonicalPathError.None)
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status400BadRequest, DescribePathError(pathError));
        }

        if (GatewayPaths.IsManagement(path))
        {
            // The host dispatches /_gateway by the path as sent, so this is another spelling of it ("//_gateway/config"):
            // it must neither reach a backend through a catch-all route nor slip past edge rules keyed on the prefix.
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status400BadRequest, "the path is a non-canonical spelling of a management API path");
        }

        feature.Path = path;
        feature.Query = query;

        var hostHeader = request.Headers.Host.ToString();
        SplitHost(hostHeader, context.Connection.LocalPort, out var hostEnd, out var port);
        if (!snapshot.Router.TryMatch(request.Method, hostHeader.AsSpan(0, hostEnd), port, path, request.Headers, out var match))
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status404NotFound, "no route matched the request");
        }

        feature.Match = match;
        var service = match.Route.Service;
        Observability.GatewayTelemetry.TagRoute(System.Diagnostics.Activity.Current, match.Route.Config.Name ?? match.Route.Config.Id, service?.Config.Name ?? service?.Config.Id);
        if (service is null)
        {
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "the matched route has no service");
        }

        return match.Route.Plugins.IsEmpty
            ? ForwardAsync(context, feature, service)
            : RunPluginsThenForwardAsync(context, feature, snapshot, service);
    }

    /// <summary>Kong's access phase: each plugin in priority order, the most specific instance per name.</summary>
    private async Task RunPluginsThenForwardAsync(HttpContext context, GatewayRequestFeature feature, GatewaySnapshot snapshot, ServiceRuntime service)
    {
        var gateway = new GatewayContext(context, feature, snapshot, _pluginRuntime);
        foreach (var step in feature.Match.Route.Plugins.Steps)
        {
            var plugin = step.Select(feature.Consumer);
            if (plugin is null)
            {
                continue;
            }

            ResponsePhase.Collect(feature, plugin);
            PluginResult result;
            using (var span = step.SpanName is null ? null : Observability.GatewayTelemetry.Source.StartActivity(step.SpanName))
            {
                span?.SetTag("gateway.plugin", step.Name);
                result = await plugin.AccessAsync(gateway);
            }

            if (result.Answered || result.Rejected)
            {
                ResponsePhase.CollectAfter(feature, feature.Match.Route.Plugins.Steps, step);
                ResponsePhase.OnGatewayResponse(context, feature);
            }

            if (result.Answered)
            {
                context.Response.StatusCode = result.Status;
                context.Response.ContentLength = 0;
                return;
            }

            if (result.Rejected)
            {
                if (result.WwwAuthenticate is not null)
                {
                    context.Response.Headers.WWWAuthenticate = result.WwwAuthenticate;
                }

                if (result.RetryAfter is { } retryAfter)
                {
                    context.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await ProblemDetailsWriter.WriteAsync(context, result.Status, result.Detail ?? "rejected", feature.RequestId);
                return;
            }
        }

        if (feature.Consumer is { } consumer)
        {
            System.Diagnostics.Activity.Current?.SetTag("gateway.consumer.id", consumer.Id);
        }

        await ForwardAsync(context, feature, service);
    }

    private async Task ForwardAsync(HttpContext context, GatewayRequestFeature feature, ServiceRuntime service)
    {
        var route = feature.Match.Route.Config;
        var upstreamPath = feature.UpstreamPathOverride ?? UpstreamPath.Build(service.Config.Path, feature.Path, route.StripPath, route.PathHandling == "v1", feature.Match.MatchedLength);
        _telemetry.BeforeForwarding(context, feature);
        var retriable = service.Config.Retries > 0 && RetryPolicy.MayRetry(context);
        if (retriable)
        {
            service.RetryBudget.Deposit();
        }

        var firstAttempt = System.Diagnostics.Stopwatch.GetTimestamp();
        var retries = 0;
        var openBreakers = 0;
        TimeSpan? retryAfter = null;
        while (true)
        {
            var target = service.Balancer.Pick();
            if (target is null)
            {
                // Kong: "failure to get a peer from the ring-balancer" when health checks took every target out.
                ResponsePhase.OnGatewayResponse(context, feature);
                await ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                    "failure to get a peer from the ring-balancer: no target of the upstream can take traffic", feature.RequestId);
                return;
            }

            feature.UpstreamUri = new Uri(string.Concat(target.Destination, upstreamPath, feature.Query), in UriOptions);
            feature.UpstreamStartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            var (result, brokenFor) = target.Breaker is null
                ? (await SendOnceAsync(context, service, target.Destination), null)
                : await SendThroughBreakerAsync(context, service, target);
            if (brokenFor is not null)
            {
                // Open breaker: no upstream call; another target whose breaker is closed may take it.
                retryAfter = retryAfter is { } earlier && earlier < brokenFor ? earlier : brokenFor;
                if (++openBreakers < service.Balancer.Targets.Count)
                {
                    continue;
                }

                ResponsePhase.OnGatewayResponse(context, feature);
                context.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(retryAfter.Value.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                    "the upstream's circuit breaker is open: it failed too often and is given time to recover", feature.RequestId);
                return;
            }

            target.Health?.ReportPassive(result.Failure, result.Status);
            if (result.Error == ForwarderError.None)
            {
                return;
            }

            if (retriable && result.Failure.BeforeRequestSent() && retries < service.Config.Retries && !context.Response.HasStarted
                && RetryPolicy.WithinDeadline(firstAttempt, service.Timeouts))
            {
                if (!service.RetryBudget.TryWithdraw())
                {
                    _resilience.RetryRefused(service.Config.Key, feature.RequestId);
                }
                else
                {
                    retries++;
                    _resilience.Retried(service.Config.Key, target.Authority, result.Failure, retries, feature.RequestId);
                    // Kong picks the balancer's next target for each retry; YARP left the response untouched.
                    context.Response.Clear();
                    context.Features.Set<IForwarderErrorFeature>(null);
                    try
                    {
                        await Task.Delay(RetryPolicy.Backoff(retries), _resilience.Time, context.RequestAborted);
                    }
                    catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
                    {
                        // The client left while we waited: nobody to answer.
                        return;
                    }

                    continue;
                }
            }

            await HandleForwardErrorAsync(context, feature, result.Error);
            return;
        }
    }

    private async ValueTask<AttemptResult> SendOnceAsync(HttpContext context, ServiceRuntime service, string destination)
    {
        ForwarderError error;
        using (var span = Observability.GatewayTelemetry.Source.StartActivity("gateway.upstream"))
        {
            if (span is not null)
            {
                var uri = context.Features.GetRequiredFeature<GatewayRequestFeature>().UpstreamUri!;
                span.SetTag("server.address", uri.Host);
                span.SetTag("server.port", uri.Port);
            }

            error = await _forwarder.SendAsync(context, destination, _upstreamClient, service.RequestConfig, GatewayTransformer.Instance);
            if (error != ForwarderError.None)
            {
                span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error.ToString());
            }
        }

        var failure = error == ForwarderError.None
            ? UpstreamFailure.None
            : UpstreamFailures.Classify(error, context.Features.Get<IForwarderErrorFeature>()?.Exception);
        return new AttemptResult(error, failure, context.Response.StatusCode);
    }

    /// <summary>One attempt through the target's breaker; the remaining break time instead when it is open.</summary>
    private async ValueTask<(AttemptResult Result, TimeSpan? BrokenFor)> SendThroughBreakerAsync(HttpContext context, ServiceRuntime service, BalancedTarget target)
    {
        var resilienceContext = ResilienceContextPool.Shared.Get(context.RequestAborted);
        try
        {
            var outcome = await target.Breaker!.ExecuteOutcomeAsync(
                static async (_, state) => Outcome.FromResult(await state.Pipeline.SendOnceAsync(state.Context, state.Service, state.Destination)),
                resilienceContext,
                (Pipeline: this, Context: context, Service: service, Destination: target.Destination));
            switch (outcome.Exception)
            {
                case null:
                    return (outcome.Result, null);
                case BrokenCircuitException broken:
                    return (default, broken.RetryAfter ?? TimeSpan.FromSeconds(service.Config.CircuitBreaker!.BreakDuration));
                default:
                    outcome.ThrowIfException();
                    return default;
            }
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilienceContext);
        }
    }

    private Task HandleForwardErrorAsync(HttpContext context, GatewayRequestFeature feature, ForwarderError error)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        LogUpstreamError(_logger, error, feature.RequestId, exception);
        if (feature.RequestBodyTooLarge && !context.Response.HasStarted)
        {
            // request-size-limiting stopped a streamed body at its limit (Kong answers 413 as well).
            context.Response.Clear();
            ResponsePhase.OnGatewayResponse(context, feature);
            return ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, RequestGuards.RequestSizeLimitingPlugin.TooLarge, feature.RequestId);
        }

        if (context.Response.HasStarted || error == ForwarderError.RequestCanceled || context.RequestAborted.IsCancellationRequested)
        {
            // Headers are gone (YARP aborted the response) or the client left: nothing more to say.
            return Task.CompletedTask;
        }

        var (status, detail) = Classify(error, exception);
        context.Response.Clear();
        ResponsePhase.OnGatewayResponse(context, feature);
        return ProblemDetailsWriter.WriteAsync(context, status, detail, feature.RequestId);
    }

    private static (int Status, string Detail) Classify(ForwarderError error, Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case UpstreamTimeoutException timeout:
                    return (StatusCodes.Status504GatewayTimeout, timeout.Message);
                case UpstreamAddressDeniedException:
                    return (StatusCodes.Status502BadGateway, "the upstream address is not allowed by the gateway's upstream address policy");
            }
        }

        return error switch
        {
            ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "the upstream did not answer in time"),
            ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled =>
                (StatusCodes.Status400BadRequest, "the request body could not be read from the client"),
            _ => (StatusCodes.Status502BadGateway, "the upstream could not be reached or sent an invalid response"),
        };
    }

    private static bool TrySplitTarget(HttpContext context, out string path, out string query)
    {
        var raw = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        path = raw;
        query = "";
        if (raw.Length == 0 || raw[0] != '/')
        {
            return false;
        }

        var q = raw.IndexOf('?');
        if (q >= 0)
        {
            path = raw[..q];
            query = raw[q..];
        }

        return true;
    }

    /// <summary>Host header -> length of the host part and the port (the local port when none is given).</summary>
    private static void SplitHost(string host, int localPort, out int hostLength, out int port)
    {
        port = localPort;
        hostLength = host.Length;
        var colon = host.LastIndexOf(':');
        if (colon >= 0 && host.IndexOf(']', colon) < 0)
        {
            hostLength = colon;
            if (int.TryParse(host.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p))
            {
                port = p;
            }
        }
    }

    private static string DescribePathError(CanonicalPathError error) => error switch
    {
        CanonicalPathError.EncodedSlash => "the path contains an encoded '/' (%2F), which the gateway does not accept",
        CanonicalPathError.EncodedBackslash => "the path contains an encoded '\\' (%5C), which the gateway does not accept",
        CanonicalPathError.EncodedNul => "the path contains an encoded NUL (%00), which the gateway does not accept",
        CanonicalPathError.Backslash => "the path contains '\\', which the gateway does not accept",
        CanonicalPathError.InvalidEncoding => "the path contains an invalid percent-encoding",
        CanonicalPathError.InvalidCharacter => "the path contains a character that is not allowed in a URI path",
        CanonicalPathError.DotSegmentWithParameters => "the path contains a dot segment with ';' parameters, which the gateway does not accept",
        _ => "the request target must be an absolute path",
    };

    [LoggerMessage(EventId = LogEvents.UpstreamError, Level = LogLevel.Information,
        Message = "Upstream exchange failed ({Error}) for request {RequestId}")]
    private static partial void LogUpstreamError(ILogger logger, ForwarderError error, string requestId, Exception? exception);
}
