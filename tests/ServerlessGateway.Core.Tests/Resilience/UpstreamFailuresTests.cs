using System.Net.Sockets;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Resilience;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Tests.Resilience;

public sealed class UpstreamFailuresTests
{
    // SocketsHttpHandler wraps what a ConnectCallback throws in HttpRequestException(ConnectionError).
    private static HttpRequestException Wrapped(Exception inner) => new(HttpRequestError.ConnectionError, "connect failed", inner);

    [Fact]
    public void Connect_failures_are_told_apart_by_what_the_connector_threw()
    {
        Assert.Equal(UpstreamFailure.ConnectError, UpstreamFailures.Classify(ForwarderError.Request, Wrapped(new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal(UpstreamFailure.ConnectTimeout, UpstreamFailures.Classify(ForwarderError.Request, Wrapped(new UpstreamTimeoutException("t") { DuringConnect = true })));
        Assert.Equal(UpstreamFailure.NotTheTarget, UpstreamFailures.Classify(ForwarderError.Request, Wrapped(new UpstreamAddressDeniedException("denied"))));
    }

    [Fact]
    public void Failures_after_the_connection_stood_are_never_retriable()
    {
        var readTimeout = UpstreamFailures.Classify(ForwarderError.Request, new UpstreamTimeoutException("read"));
        var reset = UpstreamFailures.Classify(ForwarderError.Request, new HttpRequestException(HttpRequestError.ResponseEnded, "ended"));
        var clientLeft = UpstreamFailures.Classify(ForwarderError.RequestCanceled, new OperationCanceledException());

        Assert.Equal(UpstreamFailure.Timeout, readTimeout);
        Assert.Equal(UpstreamFailure.Transport, reset);
        Assert.Equal(UpstreamFailure.NotTheTarget, clientLeft);
        Assert.False(readTimeout.BeforeRequestSent() || reset.BeforeRequestSent());
        Assert.False(clientLeft.CountsAgainstTarget());
    }
}
