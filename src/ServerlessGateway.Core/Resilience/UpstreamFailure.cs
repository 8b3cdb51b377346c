using ServerlessGateway.Forwarding;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Resilience;

/// <summary>What one upstream exchange tells about the target, for the breaker, health checks and retries.</summary>
internal enum UpstreamFailure
{
    /// <summary>The exchange completed; judge the target by the status.</summary>
    None,
    /// <summary>The client left or sent a bad body, or the SSRF guard refused: says nothing about the target.</summary>
    NotTheTarget,
    /// <summary>No connection could be made: nothing was sent, so the request may be retried elsewhere.</summary>
    ConnectError,
    ConnectTimeout,
    /// <summary>A read or write idle timeout after the connection stood.</summary>
    Timeout,
    /// <summary>The connection broke (reset, premature end, invalid response) after the request was sent.</summary>
    Transport,
}

internal static class UpstreamFailures
{
    public static UpstreamFailure Classify(ForwarderError error, Exception? exception)
    {
        switch (error)
        {
            case ForwarderError.None:
                return UpstreamFailure.None;
            case ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.RequestBodyClient
                or ForwarderError.ResponseBodyCanceled or ForwarderError.ResponseBodyClient
                or ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeRequestClient
                or ForwarderError.UpgradeResponseCanceled or ForwarderError.UpgradeResponseClient:
                return UpstreamFailure.NotTheTarget;
        }

        // Our connector's exceptions arrive wrapped in HttpRequestException(ConnectionError): look at the whole chain first.
        var connectionError = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case UpstreamTimeoutException timeout:
                    return timeout.DuringConnect ? UpstreamFailure.ConnectTimeout : UpstreamFailure.Timeout;
                case UpstreamAddressDeniedException:
                    return UpstreamFailure.NotTheTarget;
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }:
                    connectionError = true;
                    break;
            }
        }

        if (connectionError && error == ForwarderError.Request)
        {
            return UpstreamFailure.ConnectError;
        }

        return error == ForwarderError.RequestTimedOut ? UpstreamFailure.Timeout : UpstreamFailure.Transport;
    }

    /// <summary>Connect errors and timeouts always count against a target, as do broken connections.</summary>
    public static bool CountsAgainstTarget(this UpstreamFailure failure) => failure is not (UpstreamFailure.None or UpstreamFailure.NotTheTarget);

    /// <summary>Nothing reached the upstream: the only failures a retry may follow (Kong retries on connect errors and timeouts).</summary>
    public static bool BeforeRequestSent(this UpstreamFailure failure) => failure is UpstreamFailure.ConnectError or UpstreamFailure.ConnectTimeout;
}

/// <summary>The result of one attempt: YARP's error, what it says about the target, and the response status.</summary>
internal readonly record struct AttemptResult(ForwarderError Error, UpstreamFailure Failure, int Status);
