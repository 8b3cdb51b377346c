namespace ServerlessGateway.Forwarding;

/// <summary>
/// Cancels one upstream exchange when a single operation (connect, a write of the request, waiting
/// for or reading the response) stays pending longer than its timeout. Armed when an operation
/// starts and disarmed when it ends, so time spent waiting on the client never counts.
/// </summary>
internal sealed class IdleWatchdog : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private volatile string? _phase;

    private readonly CancellationToken _outer;

    public IdleWatchdog(CancellationToken outer, UpstreamTimeouts timeouts)
    {
        _outer = outer;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Timeouts = timeouts;
    }

    /// <summary>
    /// A token for one body operation. The forwarder passes the token it gave SendAsync (which the
    /// watchdog already links), so the common case needs no new linked source.
    /// </summary>
    public CancellationTokenSource? LinkFor(CancellationToken operationToken, out CancellationToken token)
    {
        if (!operationToken.CanBeCanceled || operationToken == _outer || operationToken == _cts.Token)
        {
            token = _cts.Token;
            return null;
        }

        var linked = CancellationTokenSource.CreateLinkedTokenSource(operationToken, _cts.Token);
        token = linked.Token;
        return linked;
    }

    public UpstreamTimeouts Timeouts { get; }

    public CancellationToken Token => _cts.Token;

    /// <summary>The phase that ran out of time, or null while none did.</summary>
    public string? ExpiredPhase => _cts.IsCancellationRequested ? _phase : null;

    public void Arm(TimeSpan timeout, string phase)
    {
        _phase = phase;
        try
        {
            _cts.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
            // The exchange ended while a late stream operation was still returning.
        }
    }

    public void Disarm()
    {
        try
        {
            _cts.CancelAfter(Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public UpstreamTimeoutException Expired() =>
        new($"the upstream {ExpiredPhase ?? "operation"} timed out");

    public void Dispose() => _cts.Dispose();
}
