using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Tests.Forwarding;

public sealed class TargetBalancerTests
{
    [Fact]
    public void Distributes_by_weight_without_bursts()
    {
        var balancer = new TargetBalancer([("http://a:1", 100), ("http://b:1", 50)]);

        var picks = Enumerable.Range(0, 300).Select(_ => balancer.Next()!).ToList();

        Assert.Equal(200, picks.Count(p => p == "http://a:1"));
        Assert.Equal(100, picks.Count(p => p == "http://b:1"));
        // Smooth: b is never picked twice in a row at 2:1.
        Assert.DoesNotContain(picks.Zip(picks.Skip(1)), pair => pair.First == "http://b:1" && pair.Second == "http://b:1");
    }

    [Fact]
    public void Zero_weight_targets_get_no_traffic_and_none_left_means_null()
    {
        var balancer = new TargetBalancer([("http://a:1", 0), ("http://b:1", 7)]);
        var empty = new TargetBalancer([("http://a:1", 0)]);

        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal("http://b:1", balancer.Next()));
        Assert.Null(empty.Next());
    }

    [Fact]
    public void Huge_weights_keep_their_proportions_within_a_bounded_schedule()
    {
        var balancer = new TargetBalancer([("http://a:1", 65_535), ("http://b:1", 65_534), ("http://c:1", 1)]);

        var picks = Enumerable.Range(0, 65_536).Select(_ => balancer.Next()!).ToList();

        Assert.InRange(picks.Count(p => p == "http://a:1"), 32_000, 33_000);
        Assert.InRange(picks.Count(p => p == "http://c:1"), 1, 3);
    }
}
