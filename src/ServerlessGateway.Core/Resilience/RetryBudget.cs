namespace ServerlessGateway.Resilience;

/// <summary>
/// Caps retries at a share of recent requests (Finagle's and Linkerd's retry budget): over a sliding
/// 10 s window of one-second buckets, a service may retry <c>ratio</c> x its requests plus a small floor
/// per second, so retries can never multiply an outage. Counting a request is lock-free within a second; the lock
/// only orders sliding the window and spending, and nothing awaits under it.
/// </summary>
internal sealed class RetryBudget
{
    private const int WindowSeconds = 10;
    private readonly object _gate = new();
    private readonly long[] _requests = new long[WindowSeconds];
    private readonly long[] _retries = new long[WindowSeconds];
    private readonly TimeProvider _time;
    private readonly double _ratio;
    private readonly long _floor;
    private long _second;

    public RetryBudget(TimeProvider time, double ratio, int minPerSecond)
    {
        _time = time;
        _ratio = ratio;
        _floor = (long)minPerSecond * WindowSeconds;
        _second = Now();
    }

    /// <summary>Counts a request that may later ask for retries.</summary>
    public void Deposit()
    {
        // Every retriable request passes here: within the current second, one interlocked add and no lock.
        var now = Now();
        if (now == Volatile.Read(ref _second))
        {
            Interlocked.Increment(ref _requests[now % WindowSeconds]);
            return;
        }

        lock (_gate)
        {
            Interlocked.Increment(ref _requests[Advance()]);
        }
    }

    /// <summary>True (and the retry counted) while the window's retries stay within the budget.</summary>
    public bool TryWithdraw()
    {
        lock (_gate)
        {
            var bucket = Advance();
            long requests = 0, retries = 0;
            for (var i = 0; i < WindowSeconds; i++)
            {
                requests += Volatile.Read(ref _requests[i]);
                retries += Volatile.Read(ref _retries[i]);
            }

            if (retries + 1 > _floor + (long)(_ratio * requests))
            {
                return false;
            }

            Interlocked.Increment(ref _retries[bucket]);
            return true;
        }
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Clears the buckets that fell out of the window; returns the current bucket.</summary>
    private int Advance()
    {
        var now = Now();
        var stale = Math.Min(now - _second, WindowSeconds);
        for (var i = 1; i <= stale; i++)
        {
            var bucket = (int)((_second + i) % WindowSeconds);
            Volatile.Write(ref _requests[bucket], 0);
            Volatile.Write(ref _retries[bucket], 0);
        }

        if (now > _second)
        {
            Volatile.Write(ref _second, now);
        }

        return (int)(_second % WindowSeconds);
    }
}
