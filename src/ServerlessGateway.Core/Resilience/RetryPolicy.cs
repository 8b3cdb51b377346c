using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Resilience;

/// <summary>
/// When a failed attempt may be repeated on the next target: Kong's <c>retries</c>, narrowed to what is
/// safe for a streaming proxy (docs/resilience.md).
/// </summary>
internal static class RetryPolicy
{
    /// <summary>
    /// The Functions platform cuts an HTTP request at 230 s. A retry starts only when the time spent so far
    /// plus a full connect and a full read timeout still fits under this bound.
    /// </summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(225);

    private static readonly TimeSpan BackoffBase = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan BackoffCap = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Idempotent methods (RFC 9110 §9.2.2) without a body: nothing was consumed from the client, so the
    /// request can be sent again as it came.
    /// </summary>
    public static bool MayRetry(HttpContext context)
    {
        var method = context.Request.Method;
        var idempotent = HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
            || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);
        return idempotent && context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false };
    }

    public static bool WithinDeadline(long firstAttemptTimestamp, UpstreamTimeouts timeouts) =>
        System.Diagnostics.Stopwatch.GetElapsedTime(firstAttemptTimestamp) + timeouts.Connect + timeouts.Read <= Deadline;

    /// <summary>Full jitter over an exponential step (AWS architecture blog, "Exponential Backoff And Jitter").</summary>
    public static TimeSpan Backoff(int retry)
    {
        var ceiling = Math.Min(BackoffCap.Ticks, BackoffBase.Ticks << Math.Min(retry - 1, 8));
        return TimeSpan.FromTicks(Random.Shared.NextInt64(ceiling + 1));
    }
}
