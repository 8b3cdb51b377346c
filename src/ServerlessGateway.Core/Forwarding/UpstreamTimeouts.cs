namespace ServerlessGateway.Forwarding;

/// <summary>
/// Kong's service timeouts: connect bounds establishing the connection; read and write are idle
/// timeouts between two successive operations on the upstream connection (nginx's proxy_read_timeout
/// and proxy_send_timeout), not totals, so a long download that keeps flowing is never cut.
/// </summary>
internal sealed record UpstreamTimeouts(TimeSpan Connect, TimeSpan Read, TimeSpan Write)
{
    public static readonly HttpRequestOptionsKey<IdleWatchdog> WatchdogKey = new("ServerlessGateway.IdleWatchdog");
    public static readonly HttpRequestOptionsKey<UpstreamTimeouts> OptionKey = new("ServerlessGateway.UpstreamTimeouts");
}

/// <summary>The upstream did not connect, send or answer within the service's timeout: maps to 504.</summary>
public sealed class UpstreamTimeoutException(string message) : TimeoutException(message)
{
    /// <summary>True when no connection was made: the request never left, so it may be retried.</summary>
    public bool DuringConnect { get; init; }
}

/// <summary>Every address of the upstream host is denied by the SSRF guard: maps to 502.</summary>
public sealed class UpstreamAddressDeniedException(string message) : Exception(message);
