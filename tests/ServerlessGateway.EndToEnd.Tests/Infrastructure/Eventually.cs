using System.Diagnostics;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

public static class Eventually
{
    /// <summary>Polls every 50 ms until the condition holds; fails with <paramref name="what"/> after <paramref name="limit"/>. Returns how long it took.</summary>
    public static async Task<TimeSpan> HoldsAsync(Func<Task<bool>> condition, TimeSpan limit, string what, Func<string>? state = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < limit, $"not within {limit}: {what}{(state is null ? "" : " (" + state() + ")")}");
            await Task.Delay(50);
        }

        return clock.Elapsed;
    }

    public static Task<TimeSpan> HoldsAsync(Func<bool> condition, TimeSpan limit, string what, Func<string>? state = null) =>
        HoldsAsync(() => Task.FromResult(condition()), limit, what, state);

    /// <summary>Runs <paramref name="action"/> and measures it.</summary>
    public static async Task<(T Result, TimeSpan Elapsed)> TimedAsync<T>(Func<Task<T>> action)
    {
        var clock = Stopwatch.StartNew();
        var result = await action();
        return (result, clock.Elapsed);
    }
}
