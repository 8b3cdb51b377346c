using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Observability;
using ServerlessGateway.Resilience;

namespace ServerlessGateway.Tests.Resilience;

public sealed class TargetHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private UpstreamHealth Upstream(PassiveHealthcheckConfig passive, ActiveHealthcheckConfig? active = null)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var options = Options.Create(new GatewayOptions { Resilience = { PassiveRecoverySeconds = 30 } });
        var runtime = new ResilienceRuntime(_time, new GatewayMetrics(meters), options, NullLogger<ResilienceRuntime>.Instance);
        var config = new UpstreamConfig
        {
            Id = "u",
            Name = "pool",
            Targets = [new TargetConfig { Id = "a", Target = "a:80" }, new TargetConfig { Id = "b", Target = "b:80" }],
            Healthchecks = new HealthchecksConfig { Passive = passive, Active = active ?? new ActiveHealthcheckConfig() },
        };
        return UpstreamHealth.Create(config, runtime)!;
    }

    private static TargetBalancer Balancer(UpstreamHealth health) =>
        new(health.Targets.Select(t => (new BalancedTarget($"http://{t.Target}", t.Target, t), 1)).ToArray());

    private static PassiveHealthcheckConfig Passive(int httpFailures = 0, int tcpFailures = 0, int timeouts = 0) => new()
    {
        Unhealthy = new UnhealthyThresholds { HttpFailures = httpFailures, TcpFailures = tcpFailures, Timeouts = timeouts, HttpStatuses = [500] },
    };

    [Fact]
    public void Consecutive_failures_of_one_kind_take_the_target_out_and_a_success_resets_the_count()
    {
        var upstream = Upstream(Passive(httpFailures: 2, tcpFailures: 1));
        var a = upstream.Targets[0];
        var b = upstream.Targets[1];

        a.ReportPassive(UpstreamFailure.None, 500);
        a.ReportPassive(UpstreamFailure.None, 200);
        a.ReportPassive(UpstreamFailure.None, 500);
        var afterInterleaved = a.IsHealthy;
        a.ReportPassive(UpstreamFailure.None, 500);
        b.ReportPassive(UpstreamFailure.Timeout, 0);
        b.ReportPassive(UpstreamFailure.NotTheTarget, 0);
        var bAfterUncountedFailures = b.IsHealthy;
        b.ReportPassive(UpstreamFailure.ConnectError, 0);

        Assert.True(afterInterleaved);
        Assert.False(a.IsHealthy);
        Assert.True(bAfterUncountedFailures);
        Assert.False(b.IsHealthy);
    }

    [Fact]
    public void Balancer_skips_unhealthy_targets_and_has_no_peer_when_all_are_out()
    {
        var upstream = Upstream(Passive(tcpFailures: 1));
        var balancer = Balancer(upstream);

        upstream.Targets[0].ReportPassive(UpstreamFailure.ConnectError, 0);
        var picks = Enumerable.Range(0, 6).Select(_ => balancer.Pick()!.Authority).ToList();
        upstream.Targets[1].ReportPassive(UpstreamFailure.Transport, 0);

        Assert.All(picks, p => Assert.Equal("b:80", p));
        Assert.Null(balancer.Pick());
    }

    [Fact]
    public void Without_active_probes_a_passively_unhealthy_target_returns_after_the_recovery_time()
    {
        var upstream = Upstream(Passive(timeouts: 1));
        var a = upstream.Targets[0];
        a.ReportPassive(UpstreamFailure.ConnectTimeout, 0);

        _time.Advance(TimeSpan.FromSeconds(29));
        var early = a.IsAvailable();
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(early);
        Assert.True(a.IsAvailable());
        Assert.True(a.IsHealthy);
    }

    [Fact]
    public void With_active_probes_of_unhealthy_targets_only_successful_probes_bring_a_target_back()
    {
        var active = new ActiveHealthcheckConfig
        {
            Healthy = new HealthyThresholds { Interval = 1, Successes = 2, HttpStatuses = [200] },
            Unhealthy = new UnhealthyThresholds { Interval = 1, HttpFailures = 1, HttpStatuses = [503] },
        };
        var upstream = Upstream(new PassiveHealthcheckConfig(), active);
        var a = upstream.Targets[0];

        a.ReportActive(UpstreamFailure.None, 503);
        _time.Advance(TimeSpan.FromMinutes(5));
        var afterLongWait = a.IsAvailable();
        a.ReportActive(UpstreamFailure.None, 200);
        var afterOneSuccess = a.IsHealthy;
        a.ReportActive(UpstreamFailure.None, 200);

        Assert.False(afterLongWait);
        Assert.False(afterOneSuccess);
        Assert.True(a.IsAvailable());
    }
}
