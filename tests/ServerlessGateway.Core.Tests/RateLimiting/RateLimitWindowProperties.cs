using CsCheck;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>
/// Property tests of the window arithmetic (<see cref="RateLimitWindow"/>) at random instants, offsets and counts,
/// for every period. CsCheck prints the seed of a failing sample; replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed class RateLimitWindowProperties
{
    private const int Iterations = 2000;

    /// <summary>Instants between years 1 and 9998 (so the next year still exists), at any local offset.</summary>
    private static readonly Gen<DateTimeOffset> Instants = Gen.Select(
        Gen.Frequency(
            (3, Gen.Long[DateTime.MinValue.Ticks + TimeSpan.TicksPerDay, new DateTime(9998, 12, 31).Ticks]),
            (2, Gen.Long[new DateTime(2020, 1, 1).Ticks, new DateTime(2030, 1, 1).Ticks]),
            (1, Gen.OneOf(new DateTime(2024, 2, 29).Ticks, new DateTime(2024, 12, 31, 23, 59, 59).Ticks + 9_999_999, new DateTime(2025, 1, 1).Ticks))),
        Gen.Int[-14 * 60, 14 * 60],
        (ticks, offsetMinutes) => new DateTimeOffset(new DateTime(ticks, DateTimeKind.Utc)).ToOffset(TimeSpan.FromMinutes(offsetMinutes)));

    private static readonly Gen<RateLimitPeriod> Periods = Gen.Enum<RateLimitPeriod>();

    [Fact]
    public void An_instant_lies_in_its_aligned_utc_window_and_the_next_window_starts_at_its_end()
    {
        Gen.Select(Periods, Instants).Sample(
            (period, now) =>
            {
                var start = RateLimitWindow.Start(period, now);
                var end = RateLimitWindow.End(period, start);

                Assert.True(start <= now && now < end, $"{start:O} <= {now:O} < {end:O}");
                Assert.Equal(TimeSpan.Zero, start.Offset);
                Assert.True(IsAligned(period, start.UtcDateTime), $"{start:O} is not the start of a {period}");
                Assert.Equal(start, RateLimitWindow.Start(period, start));
                Assert.Equal(end, RateLimitWindow.Start(period, end));
                Assert.Equal(start, RateLimitWindow.Start(period, end.AddTicks(-1)));
                Assert.Equal(start, RateLimitWindow.Start(period, now.ToOffset(TimeSpan.Zero)));
            },
            iter: Iterations,
            threads: 1);
    }

    [Fact]
    public void Window_starts_never_go_back_as_time_goes_on()
    {
        Gen.Select(Periods, Instants, Gen.Long[0, TimeSpan.TicksPerDay * 400]).Sample(
            (period, now, later) =>
            {
                var next = now.AddTicks(Math.Min(later, DateTimeOffset.MaxValue.UtcTicks - now.UtcTicks));

                Assert.True(RateLimitWindow.Start(period, now) <= RateLimitWindow.Start(period, next));
            },
            iter: Iterations,
            threads: 1);
    }

    [Fact]
    public void The_previous_windows_weight_falls_from_one_to_zero_across_the_window()
    {
        Gen.Select(Periods, Instants, Gen.Double[0, 1], Gen.Double[0, 1]).Sample(
            (period, now, a, b) =>
            {
                var start = RateLimitWindow.Start(period, now);
                var end = RateLimitWindow.End(period, start);
                var earlier = start + ((end - start) * Math.Min(a, b));
                var later = start + ((end - start) * Math.Max(a, b));

                var weightEarlier = RateLimitWindow.PreviousWeight(start, end, earlier);
                var weightLater = RateLimitWindow.PreviousWeight(start, end, later);

                Assert.InRange(weightEarlier, 0, 1);
                Assert.InRange(weightLater, 0, 1);
                Assert.True(weightLater <= weightEarlier);
                Assert.Equal(1, RateLimitWindow.PreviousWeight(start, end, start));
                Assert.Equal(0, RateLimitWindow.PreviousWeight(start, end, end));
            },
            iter: Iterations,
            threads: 1);
    }

    /// <summary>
    /// For a request that is over the limit: after Retry-After one more request fits (the weighted count is at
    /// most limit - 1, give or take the rounding to a tick), and a millisecond before it, it did not yet (the wait
    /// is not longer than needed).
    /// </summary>
    [Fact]
    public void After_retry_after_a_request_fits_and_not_noticeably_sooner()
    {
        Gen.Select(Periods, Instants, Gen.Long[1, 1000], Gen.Long[0, 2000], Gen.Long[0, 2000], Gen.Bool).Sample(
            (period, now, limit, current, previous, sliding) =>
            {
                var start = RateLimitWindow.Start(period, now);
                if (CountAt(period, start, current, previous, sliding, now) < limit)
                {
                    return; // not blocked: no Retry-After is given
                }

                var wait = RateLimitWindow.RetryAfter(period, limit, current, previous, sliding, start, now);

                Assert.True(wait > TimeSpan.Zero, $"wait {wait}");
                // + 1 tick: TimeSpan * double rounds to whole 100 ns ticks.
                Assert.True(CountAt(period, start, current, previous, sliding, now + wait + TimeSpan.FromTicks(1)) <= limit - 1, $"still over the limit after {wait}");
                var aMillisecondSooner = now + wait - TimeSpan.FromMilliseconds(1);
                if (aMillisecondSooner > now)
                {
                    Assert.True(CountAt(period, start, current, previous, sliding, aMillisecondSooner) > limit - 1 - 1e-6, $"a request already fit before {wait}");
                }
            },
            iter: Iterations,
            threads: 1);
    }

    /// <summary>
    /// The count a decision at <paramref name="at"/> would see when the window starting at <paramref name="start"/>
    /// has <paramref name="current"/> requests and the one before it <paramref name="previous"/>, and no more arrive.
    /// </summary>
    private static double CountAt(RateLimitPeriod period, DateTimeOffset start, long current, long previous, bool sliding, DateTimeOffset at)
    {
        var end = RateLimitWindow.End(period, start);
        if (at >= end)
        {
            // The next window: this one's count becomes the previous, nothing in the current.
            var nextEnd = RateLimitWindow.End(period, end);
            return sliding ? RateLimitWindow.Count(0, current, RateLimitWindow.PreviousWeight(end, nextEnd, at)) : 0;
        }

        return sliding ? RateLimitWindow.Count(current, previous, RateLimitWindow.PreviousWeight(start, end, at)) : current;
    }

    private static bool IsAligned(RateLimitPeriod period, DateTime start) => period switch
    {
        RateLimitPeriod.Second => start.Ticks % TimeSpan.TicksPerSecond == 0,
        RateLimitPeriod.Minute => start.Ticks % TimeSpan.TicksPerMinute == 0,
        RateLimitPeriod.Hour => start.Ticks % TimeSpan.TicksPerHour == 0,
        RateLimitPeriod.Day => start.TimeOfDay == TimeSpan.Zero,
        RateLimitPeriod.Month => start.TimeOfDay == TimeSpan.Zero && start.Day == 1,
        _ => start.TimeOfDay == TimeSpan.Zero && start.Day == 1 && start.Month == 1,
    };
}
