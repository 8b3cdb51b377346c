using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>Window arithmetic: clock-aligned UTC windows, calendar months and years, sliding weights, retry times.</summary>
public sealed class RateLimitWindowTests
{
    private static DateTimeOffset At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(RateLimitPeriod.Second, "2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59Z", "2024-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Minute, "2024-02-29T23:59:59.999Z", "2024-02-29T23:59:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Hour, "2024-02-29T23:00:00Z", "2024-02-29T23:00:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Day, "2024-02-29T12:00:00Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Month, "2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Month, "2023-02-28T23:59:59Z", "2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Month, "2024-12-31T23:59:59Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Year, "2024-12-31T23:59:59.999Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Year, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")]
    public void Windows_are_aligned_to_the_utc_clock_and_calendar(RateLimitPeriod period, string now, string start, string end)
    {
        var windowStart = RateLimitWindow.Start(period, At(now));

        Assert.Equal(At(start), windowStart);
        Assert.Equal(At(end), RateLimitWindow.End(period, windowStart));
        Assert.Equal(TimeSpan.Zero, windowStart.Offset);
    }

    [Fact]
    public void A_local_time_offset_does_not_move_the_window()
    {
        // 00:30 at +02:00 is 22:30 UTC the day before: the day window is the UTC one.
        var start = RateLimitWindow.Start(RateLimitPeriod.Day, At("2025-06-02T00:30:00+02:00"));

        Assert.Equal(At("2025-06-01T00:00:00Z"), start);
    }

    [Fact]
    public void Instances_whose_clocks_differ_agree_on_the_window_except_across_the_boundary()
    {
        // Two instances 300 ms apart: same window mid-minute, different ones right at the boundary.
        var a = At("2025-06-01T10:00:30Z");
        var skew = TimeSpan.FromMilliseconds(300);
        var boundary = At("2025-06-01T10:00:59.900Z");

        Assert.Equal(RateLimitWindow.Start(RateLimitPeriod.Minute, a), RateLimitWindow.Start(RateLimitPeriod.Minute, a + skew));
        Assert.NotEqual(RateLimitWindow.Start(RateLimitPeriod.Minute, boundary), RateLimitWindow.Start(RateLimitPeriod.Minute, boundary + skew));
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(15, 0.75)]
    [InlineData(45, 0.25)]
    [InlineData(60, 0.0)]
    public void The_previous_window_weighs_what_is_left_of_it_in_the_sliding_period(int secondsIn, double weight)
    {
        var start = At("2025-06-01T10:00:00Z");

        var actual = RateLimitWindow.PreviousWeight(start, start.AddMinutes(1), start.AddSeconds(secondsIn));

        Assert.Equal(weight, actual, 6);
        Assert.Equal(10 + (8 * weight), RateLimitWindow.Count(10, 8, actual), 6);
    }

    [Fact]
    public void Retry_after_is_the_window_end_for_fixed_windows_and_when_the_weighted_count_allows_for_sliding()
    {
        var start = At("2025-06-01T10:00:00Z");
        var now = start.AddSeconds(10);

        var fixedWindow = RateLimitWindow.RetryAfter(RateLimitPeriod.Minute, 10, 10, 0, sliding: false, start, now);
        // Sliding, 4 now and 10 before: 4 + 10 * (1 - f) <= 9 once f >= 0.5, at 30 s.
        var slidingInWindow = RateLimitWindow.RetryAfter(RateLimitPeriod.Minute, 10, 4, 10, sliding: true, start, now);
        // Sliding, 10 now: not before the next window, where 10 * (1 - f) <= 9 once f >= 0.1, 6 s in.
        var slidingNextWindow = RateLimitWindow.RetryAfter(RateLimitPeriod.Minute, 10, 10, 0, sliding: true, start, now);

        Assert.Equal(TimeSpan.FromSeconds(50), fixedWindow);
        Assert.Equal(TimeSpan.FromSeconds(20), slidingInWindow);
        Assert.Equal(TimeSpan.FromSeconds(56), slidingNextWindow);
    }

    [Theory]
    [InlineData(0.001, 1)]
    [InlineData(1.0, 1)]
    [InlineData(1.2, 2)]
    [InlineData(59.999, 60)]
    public void Reset_seconds_round_up_and_are_at_least_one(double seconds, long expected)
    {
        var now = At("2025-06-01T10:00:00Z");

        Assert.Equal(expected, RateLimitWindow.SecondsUntil(now.AddSeconds(seconds), now));
    }

    [Fact]
    public void Idle_local_keys_are_cleaned_from_memory_once_their_windows_end()
    {
        // Arrange: one key with a minute limit, one with an hour limit, one sliding minute.
        var time = new FakeTimeProvider(At("2025-06-01T10:00:00Z"));
        var limiter = new LocalRateLimiter();
        var usage = new PeriodUsage[1];
        limiter.TryAcquire("minute", [new(RateLimitPeriod.Minute, 5)], false, time.GetUtcNow(), usage);
        limiter.TryAcquire("hour", [new(RateLimitPeriod.Hour, 5)], false, time.GetUtcNow(), usage);
        limiter.TryAcquire("sliding", [new(RateLimitPeriod.Minute, 5)], true, time.GetUtcNow(), usage);

        // Act
        time.Advance(TimeSpan.FromSeconds(61));
        limiter.Sweep(time.GetUtcNow());
        var afterMinute = limiter.KeyCount;
        time.Advance(TimeSpan.FromMinutes(1));
        limiter.Sweep(time.GetUtcNow());
        var afterTwoMinutes = limiter.KeyCount;
        time.Advance(TimeSpan.FromHours(1));
        limiter.Sweep(time.GetUtcNow());

        // Assert: the sliding key lives one window longer (its count weighs on the next window).
        Assert.Equal(2, afterMinute);
        Assert.Equal(1, afterTwoMinutes);
        Assert.Equal(0, limiter.KeyCount);
    }

    [Fact]
    public void A_swept_key_starts_counting_afresh()
    {
        var time = new FakeTimeProvider(At("2025-06-01T10:00:00Z"));
        var limiter = new LocalRateLimiter();
        var usage = new PeriodUsage[1];
        PeriodLimit[] limits = [new(RateLimitPeriod.Second, 1)];
        Assert.Equal(RateLimitOutcome.Admitted, limiter.TryAcquire("k", limits, false, time.GetUtcNow(), usage));
        Assert.Equal(RateLimitOutcome.Rejected, limiter.TryAcquire("k", limits, false, time.GetUtcNow(), usage));

        time.Advance(TimeSpan.FromSeconds(1));
        limiter.Sweep(time.GetUtcNow());

        Assert.Equal(RateLimitOutcome.Admitted, limiter.TryAcquire("k", limits, false, time.GetUtcNow(), usage));
    }
}
