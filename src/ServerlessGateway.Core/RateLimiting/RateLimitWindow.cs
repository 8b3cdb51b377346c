namespace ServerlessGateway.RateLimiting;

/// <summary>
/// Window arithmetic. Windows are fixed and aligned to the UTC clock (a minute starts at :00, a day at
/// midnight UTC, months and years by the calendar), as Kong's <c>timestamp.get_timestamps</c>. A sliding
/// window weights the previous fixed window by the part of it still inside the sliding period
/// (count = current + previous * (1 - elapsed / period)), as Kong Enterprise's <c>window_type: sliding</c>.
/// </summary>
internal static class RateLimitWindow
{
    public static DateTimeOffset Start(RateLimitPeriod period, DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var start = period switch
        {
            RateLimitPeriod.Second => new DateTime(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc),
            RateLimitPeriod.Minute => new DateTime(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc),
            RateLimitPeriod.Hour => new DateTime(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc),
            RateLimitPeriod.Day => utc.Date,
            RateLimitPeriod.Month => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => new DateTime(utc.Year, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        };
        return new DateTimeOffset(start);
    }

    public static DateTimeOffset End(RateLimitPeriod period, DateTimeOffset start) => new CounterId("", period, start).WindowEnd;

    /// <summary>The weight of the previous window's count at <paramref name="now"/> (1 at the window start, 0 at its end).</summary>
    public static double PreviousWeight(DateTimeOffset start, DateTimeOffset end, DateTimeOffset now) =>
        Math.Clamp(1 - ((now - start) / (end - start)), 0, 1);

    /// <summary>The count a decision compares with the limit: the current window plus, for a sliding window, the weighted previous one.</summary>
    public static double Count(long current, long previous, double previousWeight) => current + (previous * previousWeight);

    /// <summary>
    /// How long until one more request fits under <paramref name="limit"/>: the end of the window for a fixed
    /// window; for a sliding one, the moment the weighted count has fallen far enough (possibly in the next window).
    /// </summary>
    public static TimeSpan RetryAfter(RateLimitPeriod period, long limit, long current, long previous, bool sliding, DateTimeOffset start, DateTimeOffset now)
    {
        var end = End(period, start);
        var toEnd = end - now;
        if (!sliding)
        {
            return toEnd;
        }

        var room = limit - 1;
        var length = end - start;
        if (current <= room && previous > 0)
        {
            // current + previous * (1 - f) <= room  <=>  f >= 1 - (room - current) / previous
            var fraction = 1 - ((double)(room - current) / previous);
            var at = start + (length * Math.Clamp(fraction, 0, 1));
            return at > now ? at - now : TimeSpan.Zero;
        }

        // Not before the next window, where this window's count is the weighted previous one.
        var nextLength = End(period, end) - end;
        var nextFraction = current == 0 ? 0 : Math.Clamp(1 - ((double)room / current), 0, 1);
        return toEnd + (nextLength * nextFraction);
    }

    /// <summary>Whole seconds from <paramref name="now"/> to <paramref name="end"/>, at least 1 (Kong's RateLimit-Reset).</summary>
    public static long SecondsUntil(DateTimeOffset end, DateTimeOffset now) =>
        Math.Max(1, (long)Math.Ceiling((end - now).TotalSeconds));
}
