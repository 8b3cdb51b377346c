namespace ServerlessGateway.RateLimiting;

/// <summary>
/// What one decision found for one period: its limit, what remains after this request, when the window
/// resets, and for a blocking period how long until a request fits again. <see cref="Evaluated"/> is false
/// for periods a decision did not reach (<c>strict</c> stops at the first period that rejects).
/// </summary>
internal readonly record struct PeriodUsage(
    RateLimitPeriod Period,
    long Limit,
    long Remaining,
    DateTimeOffset WindowEnd,
    TimeSpan WindowLength,
    bool Blocked,
    TimeSpan RetryAfter)
{
    public bool Evaluated => Limit > 0;

    /// <summary>
    /// A rejected request is not counted: the periods that had room show what remains without it
    /// (their <see cref="Remaining"/> was computed as if it were admitted), as Kong's headers do.
    /// </summary>
    public static void Uncount(Span<PeriodUsage> usage)
    {
        for (var i = 0; i < usage.Length; i++)
        {
            if (!usage[i].Blocked)
            {
                usage[i] = usage[i] with { Remaining = usage[i].Remaining + 1 };
            }
        }
    }
}

/// <summary>How a rate-limit decision ended; one place (the plugin) maps it to a response and a metric.</summary>
internal enum RateLimitOutcome
{
    Admitted,
    Rejected,

    /// <summary>The shared store cannot be used and <c>fault_tolerant</c> is false.</summary>
    Unavailable,

    /// <summary>A strict increment lost every retry to concurrent writers.</summary>
    Contention,

    /// <summary>The client went away before the decision was made: neither admitted nor rejected.</summary>
    Cancelled,
}
