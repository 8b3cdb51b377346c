using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using ServerlessGateway.Configuration;
using ServerlessGateway.Observability;

namespace ServerlessGateway.Resilience;

/// <summary>
/// What outlives a snapshot: the circuit breakers (Polly's registry keyed by service, target and settings,
/// so a config reload that leaves a breaker's settings alone keeps its state), options, and the logging
/// and metering of breaker, health and retry events.
/// </summary>
internal sealed partial class ResilienceRuntime : IDisposable
{
    private readonly ResiliencePipelineRegistry<BreakerKey> _breakers;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;

    public ResilienceRuntime(TimeProvider time, GatewayMetrics metrics, IOptions<GatewayOptions> options, ILogger<ResilienceRuntime> logger)
    {
        Time = time;
        Options = options.Value.Resilience;
        _metrics = metrics;
        _logger = logger;
        _breakers = new ResiliencePipelineRegistry<BreakerKey>(new ResiliencePipelineRegistryOptions<BreakerKey>
        {
            BuilderFactory = () => new ResiliencePipelineBuilder { TimeProvider = time },
        });
    }

    public TimeProvider Time { get; }

    public ResilienceOptions Options { get; }

    /// <summary>The breaker of one target of one service (built when a snapshot is compiled, never per request).</summary>
    public ResiliencePipeline<AttemptResult> Breaker(string service, string target, CircuitBreakerConfig config) =>
        _breakers.GetOrAddPipeline<AttemptResult>(new BreakerKey(service, target, config.Signature), (builder, _) =>
        {
            var failureStatuses = new bool[600];
            foreach (var status in config.FailureStatuses)
            {
                failureStatuses[status] = true;
            }

            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<AttemptResult>
            {
                FailureRatio = config.FailureRatio,
                MinimumThroughput = config.MinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(config.SamplingDuration),
                BreakDuration = TimeSpan.FromSeconds(config.BreakDuration),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is null && IsFailure(args.Outcome.Result, failureStatuses)),
                OnOpened = args =>
                {
                    BreakerChanged(service, target, "open");
                    LogBreakerOpened(_logger, service, target, args.BreakDuration.TotalSeconds);
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    BreakerChanged(service, target, "half_open");
                    return default;
                },
                OnClosed = _ =>
                {
                    BreakerChanged(service, target, "closed");
                    return default;
                },
            });
        });

    public void TargetHealthChanged(string upstream, string target, bool healthy, string check)
    {
        var state = healthy ? "healthy" : "unhealthy";
        _metrics.TargetHealthTransitions.Add(1,
            new KeyValuePair<string, object?>("upstream", upstream),
            new KeyValuePair<string, object?>("target", target),
            new KeyValuePair<string, object?>("state", state),
            new KeyValuePair<string, object?>("check", check));
        LogTargetHealth(_logger, upstream, target, state, check);
    }

    public void Retried(string service, string target, UpstreamFailure failure, int attempt, string requestId)
    {
        _metrics.UpstreamRetries.Add(1, new KeyValuePair<string, object?>("service", service), new KeyValuePair<string, object?>("outcome", "retried"));
        LogRetry(_logger, service, target, failure, attempt, requestId);
    }

    public void RetryRefused(string service, string requestId)
    {
        _metrics.UpstreamRetries.Add(1, new KeyValuePair<string, object?>("service", service), new KeyValuePair<string, object?>("outcome", "budget_exhausted"));
        LogBudgetExhausted(_logger, service, requestId);
    }

    public void ProbeFailed(string upstream, string target, Exception exception) => LogProbeFailed(_logger, upstream, target, exception);

    public void Dispose() => _breakers.Dispose();

    private static bool IsFailure(AttemptResult result, bool[] failureStatuses) =>
        result.Failure.CountsAgainstTarget()
        || result.Failure == UpstreamFailure.None && (uint)result.Status < (uint)failureStatuses.Length && failureStatuses[result.Status];

    private void BreakerChanged(string service, string target, string state)
    {
        _metrics.CircuitBreakerTransitions.Add(1,
            new KeyValuePair<string, object?>("service", service),
            new KeyValuePair<string, object?>("target", target),
            new KeyValuePair<string, object?>("state", state));
        if (state != "open")
        {
            LogBreakerState(_logger, service, target, state);
        }
    }

    private readonly record struct BreakerKey(string Service, string Target, string Settings);

    [LoggerMessage(EventId = LogEvents.CircuitBreakerOpened, Level = LogLevel.Warning,
        Message = "Circuit breaker of service {Service} target {Target} opened for {BreakSeconds} s")]
    private static partial void LogBreakerOpened(ILogger logger, string service, string target, double breakSeconds);

    [LoggerMessage(EventId = LogEvents.CircuitBreakerStateChanged, Level = LogLevel.Information,
        Message = "Circuit breaker of service {Service} target {Target} is {State}")]
    private static partial void LogBreakerState(ILogger logger, string service, string target, string state);

    [LoggerMessage(EventId = LogEvents.TargetHealthChanged, Level = LogLevel.Warning,
        Message = "Target {Target} of upstream {Upstream} is {State} ({Check} check)")]
    private static partial void LogTargetHealth(ILogger logger, string upstream, string target, string state, string check);

    [LoggerMessage(EventId = LogEvents.UpstreamRetry, Level = LogLevel.Information,
        Message = "Retrying request {RequestId} of service {Service} after {Failure} on target {Target} (retry {Attempt})")]
    private static partial void LogRetry(ILogger logger, string service, string target, UpstreamFailure failure, int attempt, string requestId);

    [LoggerMessage(EventId = LogEvents.RetryBudgetExhausted, Level = LogLevel.Warning,
        Message = "Retry budget of service {Service} exhausted: request {RequestId} not retried")]
    private static partial void LogBudgetExhausted(ILogger logger, string service, string requestId);

    [LoggerMessage(EventId = LogEvents.ActiveProbeFailed, Level = LogLevel.Debug,
        Message = "Active health probe of target {Target} of upstream {Upstream} failed")]
    private static partial void LogProbeFailed(ILogger logger, string upstream, string target, Exception exception);
}
