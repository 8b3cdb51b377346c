using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Resilience;

namespace ServerlessGateway.Tests.Resilience;

public sealed class RetryBudgetTests
{
    [Fact]
    public void Budget_allows_the_floor_plus_the_ratio_of_recent_requests()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(time, ratio: 0.2, minPerSecond: 1);
        for (var i = 0; i < 50; i++)
        {
            budget.Deposit();
        }

        var granted = Enumerable.Range(0, 30).Count(_ => budget.TryWithdraw());

        // 10 s x 1 retry a second + 20% of 50 requests.
        Assert.Equal(20, granted);
    }

    [Fact]
    public void Spent_budget_comes_back_as_the_window_slides()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(time, ratio: 0, minPerSecond: 1);
        Assert.Equal(10, Enumerable.Range(0, 20).Count(_ => budget.TryWithdraw()));

        time.Advance(TimeSpan.FromSeconds(5));
        var halfway = budget.TryWithdraw();
        time.Advance(TimeSpan.FromSeconds(6));
        var later = Enumerable.Range(0, 20).Count(_ => budget.TryWithdraw());

        Assert.False(halfway);
        Assert.Equal(10, later);
    }
}
