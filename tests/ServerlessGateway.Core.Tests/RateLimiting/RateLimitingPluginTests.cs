using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>The plugin's decisions, headers and outcomes per policy, against a fake clock and a hand-written store.</summary>
public sealed class RateLimitingPluginTests
{
    [Fact(Timeout = 10_000)]
    public async Task Local_admits_up_to_the_limit_then_rejects_with_kong_headers_and_retry_after()
    {
        // Arrange: 10 s into a minute window.
        using var harness = new RateLimitHarness("{minute: 3}");
        harness.Time.Advance(TimeSpan.FromSeconds(10));

        // Act
        var first = await harness.SendAsync();
        await harness.SendAsync();
        var third = await harness.SendAsync();
        var fourth = await harness.SendAsync();

        // Assert
        Assert.True(first.Admitted);
        Assert.Equal("3", first.Header("X-RateLimit-Limit-Minute"));
        Assert.Equal("2", first.Header("X-RateLimit-Remaining-Minute"));
        Assert.Equal("3", first.Header("RateLimit-Limit"));
        Assert.Equal("2", first.Header("RateLimit-Remaining"));
        Assert.Equal("50", first.Header("RateLimit-Reset"));
        Assert.Equal("\"minute\";q=3;w=60", first.Header("RateLimit-Policy"));
        Assert.Equal("\"minute\";r=2;t=50", first.Header("RateLimit"));
        Assert.True(third.Admitted);
        Assert.Equal("0", third.Header("RateLimit-Remaining"));
        Assert.False(fourth.Admitted);
        Assert.Equal(429, fourth.Result.Status);
        Assert.Equal("API rate limit exceeded", fourth.Result.Detail);
        Assert.Equal(TimeSpan.FromSeconds(50), fourth.Result.RetryAfter);
        Assert.Equal("0", fourth.Header("X-RateLimit-Remaining-Minute"));
        Assert.Equal(["local/admitted", "local/admitted", "local/admitted", "local/rejected"], harness.Decisions);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_window_resets_at_the_next_clock_aligned_minute()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 1}");
        harness.Time.Advance(TimeSpan.FromSeconds(59.5));
        Assert.True((await harness.SendAsync()).Admitted);
        var refused = await harness.SendAsync();

        // Act
        harness.Time.Advance(TimeSpan.FromSeconds(0.5));
        var next = await harness.SendAsync();

        // Assert: Retry-After rounds up, never earlier than the reset.
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Result.RetryAfter);
        Assert.Equal("1", refused.Header("RateLimit-Reset"));
        Assert.True(next.Admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Several_periods_all_count_and_the_most_constrained_one_is_reported()
    {
        // Arrange: 2 a second, 3 a minute.
        using var harness = new RateLimitHarness("{second: 2, minute: 3}");

        // Act
        var first = await harness.SendAsync();
        await harness.SendAsync();
        var blockedBySecond = await harness.SendAsync();
        harness.Time.Advance(TimeSpan.FromSeconds(1));
        var third = await harness.SendAsync();
        var blockedByMinute = await harness.SendAsync();

        // Assert
        Assert.Equal("1", first.Header("X-RateLimit-Remaining-Second"));
        Assert.Equal("2", first.Header("X-RateLimit-Remaining-Minute"));
        Assert.Equal("\"second\";q=2;w=1, \"minute\";q=3;w=60", first.Header("RateLimit-Policy"));
        Assert.Equal("\"second\";r=1;t=1", first.Header("RateLimit"));
        Assert.False(blockedBySecond.Admitted);
        Assert.Equal("1", blockedBySecond.Header("X-RateLimit-Remaining-Minute"));
        Assert.True(third.Admitted, "a request refused by the second limit does not use the minute budget");
        Assert.False(blockedByMinute.Admitted);
        Assert.Equal("minute", blockedByMinute.Header("RateLimit")![1..7]);
        Assert.Equal(TimeSpan.FromSeconds(59), blockedByMinute.Result.RetryAfter);
    }

    [Fact(Timeout = 10_000)]
    public async Task Custom_error_code_and_message_and_hidden_headers()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 1, error_code: 403, error_message: slow down, hide_client_headers: true}");
        await harness.SendAsync();

        // Act
        var refused = await harness.SendAsync();

        // Assert
        Assert.Equal(403, refused.Result.Status);
        Assert.Equal("slow down", refused.Result.Detail);
        Assert.NotNull(refused.Result.RetryAfter);
        Assert.Empty(refused.Headers);
    }

    [Fact(Timeout = 10_000)]
    public async Task Consumers_are_counted_apart_and_without_a_consumer_the_client_ip_is_used()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 1}");

        // Act
        var alice = await harness.SendAsync(consumer: "alice");
        var aliceAgain = await harness.SendAsync(ip: "198.51.100.1", consumer: "alice");
        var bob = await harness.SendAsync(consumer: "bob");
        var anonymous = await harness.SendAsync();
        var anonymousElsewhere = await harness.SendAsync(ip: "198.51.100.2");
        var credentialOnly = await harness.SendAsync(credential: "key-1");

        // Assert
        Assert.True(alice.Admitted);
        Assert.False(aliceAgain.Admitted, "a consumer's limit follows the consumer, not the address");
        Assert.True(bob.Admitted);
        Assert.True(anonymous.Admitted);
        Assert.True(anonymousElsewhere.Admitted);
        Assert.True(credentialOnly.Admitted);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("{minute: 1, limit_by: ip}", true)]
    [InlineData("{minute: 1, limit_by: credential}", false)]
    [InlineData("{minute: 1, limit_by: service}", true)]
    [InlineData("{minute: 1, limit_by: header, header_name: X-Tenant}", false)]
    [InlineData("{minute: 1, limit_by: path, path: /x}", true)]
    public async Task Limit_by_selects_the_identifier(string config, bool sameAddressShares)
    {
        // Arrange: two requests from one address with different credentials and tenants.
        using var harness = new RateLimitHarness(config);

        // Act
        var first = await harness.SendAsync(credential: "key-1", setup: h => h.Request.Headers["X-Tenant"] = "t1");
        var second = await harness.SendAsync(credential: "key-2", setup: h => h.Request.Headers["X-Tenant"] = "t2");

        // Assert
        Assert.True(first.Admitted);
        Assert.Equal(!sameAddressShares, second.Admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Counts_survive_a_config_reload()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 2}");
        await harness.SendAsync();
        await harness.SendAsync();

        // Act
        harness.Reload();
        var afterReload = await harness.SendAsync();

        // Assert
        Assert.False(afterReload.Admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Two_plugins_never_share_counters()
    {
        // Arrange: one set of counters, two plugins with the same config and scope but different ids.
        using var harness = new RateLimitHarness("{minute: 1}");
        await harness.SendAsync();

        // Act
        harness.Reload(p => p with { Id = "another-plugin" });
        var other = await harness.SendAsync();
        var again = await harness.SendAsync();

        // Assert
        Assert.True(other.Admitted);
        Assert.False(again.Admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_cancelled_request_is_neither_counted_nor_rejected()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 1}");
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();

        // Act
        var cancelled = await harness.SendAsync(setup: h => h.RequestAborted = aborted.Token);
        var next = await harness.SendAsync();

        // Assert
        Assert.False(cancelled.Result.Rejected);
        Assert.True(cancelled.Result.Answered);
        Assert.True(next.Admitted);
        Assert.Equal(["local/admitted"], harness.Decisions);
    }

    [Fact(Timeout = 10_000)]
    public async Task Sliding_window_weights_the_previous_window()
    {
        // Arrange: 10 admitted in the first minute.
        using var harness = new RateLimitHarness("{minute: 10, window_type: sliding}");
        Assert.Equal(10, await harness.CountAdmittedAsync(10));

        // Act: 45 s into the next minute the previous count weighs 10 * 0.25 = 2.5, so 7 more fit.
        harness.Time.Advance(TimeSpan.FromSeconds(105));
        var admitted = await harness.CountAdmittedAsync(10);

        // Assert
        Assert.Equal(7, admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Without_a_store_shared_policies_count_locally()
    {
        // Arrange
        using var harness = new RateLimitHarness("{minute: 1, policy: redis}");

        // Act
        var first = await harness.SendAsync();
        var second = await harness.SendAsync();

        // Assert
        Assert.True(first.Admitted);
        Assert.False(second.Admitted);
        Assert.Equal(["local/admitted", "local/rejected"], harness.Decisions);
    }

    [Fact(Timeout = 10_000)]
    public async Task Strict_never_exceeds_the_limit_and_checks_the_shorter_period_first()
    {
        // Arrange
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time);
        using var harness = new RateLimitHarness("{second: 2, minute: 3, policy: strict}", store, time);

        // Act
        var results = new List<bool>();
        for (var i = 0; i < 3; i++)
        {
            results.Add((await harness.SendAsync()).Admitted);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        var third = await harness.SendAsync();
        var fourth = await harness.SendAsync();

        // Assert
        Assert.Equal([true, true, false], results);
        Assert.True(third.Admitted);
        Assert.Equal("0", third.Header("X-RateLimit-Remaining-Minute"));
        Assert.False(fourth.Admitted);
        var minute = new CounterId("", RateLimitPeriod.Minute, RateLimitHarness.Start);
        Assert.Equal("strict/rejected", harness.Decisions[^1]);
        Assert.Equal(3, store.StrictCountWhere(id => id.Period == RateLimitPeriod.Minute && id.WindowStart == minute.WindowStart));
    }

    [Fact(Timeout = 10_000)]
    public async Task Strict_contention_beyond_the_retries_is_a_503()
    {
        // Arrange
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time) { Contended = true };
        using var harness = new RateLimitHarness("{minute: 5, policy: strict}", store, time);

        // Act
        var response = await harness.SendAsync();

        // Assert
        Assert.Equal(503, response.Result.Status);
        Assert.Contains("contended", response.Result.Detail, StringComparison.Ordinal);
        Assert.Equal(["strict/unavailable"], harness.Decisions);
    }

    [Fact(Timeout = 10_000)]
    public async Task Strict_with_a_failing_store_and_fault_tolerant_false_answers_503_and_the_open_breaker_decides_without_calling()
    {
        // Arrange
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time) { Failing = true };
        using var harness = new RateLimitHarness("{minute: 100, policy: strict, fault_tolerant: false}", store, time);

        // Act: enough failures to open the breaker, then more requests.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(503, (await harness.SendAsync()).Result.Status);
        }

        var callsWhenOpen = store.Calls;
        var whileOpen = await harness.SendAsync();

        // Assert
        Assert.Equal(503, whileOpen.Result.Status);
        Assert.Contains("unavailable", whileOpen.Result.Detail, StringComparison.Ordinal);
        Assert.Equal(callsWhenOpen, store.Calls);
        Assert.All(harness.Decisions, d => Assert.Equal("strict/unavailable", d));
    }

    [Fact(Timeout = 10_000)]
    public async Task Strict_fault_tolerant_keeps_admitting_against_this_instances_share_only()
    {
        // Arrange: 3 live instances, store then down: this one may admit ceil(10 / 3) = 4.
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time);
        using var harness = new RateLimitHarness("{minute: 10, policy: strict}", store, time);
        foreach (var other in new[] { "instance-b", "instance-c" })
        {
            await store.HeartbeatAsync(other, TimeSpan.FromSeconds(20), CancellationToken.None);
        }

        await harness.Counters.Distributed!.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
        store.Failing = true;

        // Act
        var admitted = await harness.CountAdmittedAsync(10);

        // Assert
        Assert.Equal(4, admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Strict_traffic_too_thin_to_open_its_breaker_decides_at_once_once_heartbeats_found_the_store_down()
    {
        // Arrange: a hanging store; two heartbeats 5 s apart time out and open the background breaker.
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time) { Hanging = true };
        using var harness = new RateLimitHarness("{minute: 10, policy: strict}", store, time);
        for (var beat = 0; beat < 2; beat++)
        {
            var heartbeat = harness.Counters.Distributed!.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
            time.Advance(RateLimitStoreTimeouts.Default.Sync);
            await heartbeat;
        }

        var calls = store.Calls;

        // Act: one strict request (far from the 10 the strict breaker needs).
        var pending = harness.SendAsync();

        // Assert: decided without waiting on the store (no clock advance needed) and without calling it.
        Assert.True(pending.IsCompleted);
        Assert.True((await pending).Admitted);
        Assert.Equal(calls, store.Calls);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_hanging_store_times_out_and_the_decision_falls_back()
    {
        // Arrange
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time) { Hanging = true };
        using var harness = new RateLimitHarness("{minute: 10, policy: strict}", store, time);

        // Act: the strict timeout (500 ms) passes on the fake clock.
        var pending = harness.SendAsync();
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(500));
        var response = await pending;

        // Assert
        Assert.True(response.Admitted);
    }

    [Fact(Timeout = 10_000)]
    public async Task Distributed_decisions_never_call_the_store_and_a_down_store_answers_503_when_not_fault_tolerant()
    {
        // Arrange
        var time = new FakeTimeProvider(RateLimitHarness.Start);
        var store = new InMemoryRateLimitStore(time);
        using var tolerant = new RateLimitHarness("{minute: 5, policy: cluster}", store, time);
        using var strictFaults = new RateLimitHarness("{minute: 5, policy: distributed, fault_tolerant: false}", store, time);

        // Act
        var calls = store.Calls;
        var first = await tolerant.SendAsync();
        var callsAfterDecision = store.Calls;
        store.Failing = true;
        await strictFaults.SendAsync();
        await strictFaults.Counters.Distributed!.SyncAsync(flush: false, CancellationToken.None);
        await tolerant.Counters.Distributed!.SyncAsync(flush: false, CancellationToken.None);
        var down = await strictFaults.SendAsync();
        var tolerated = await tolerant.SendAsync();
        store.Failing = false;
        time.Advance(TimeSpan.FromSeconds(1));
        await strictFaults.Counters.Distributed.SyncAsync(flush: false, CancellationToken.None);
        var back = await strictFaults.SendAsync();

        // Assert
        Assert.True(first.Admitted);
        Assert.Equal("4", first.Header("X-RateLimit-Remaining-Minute"));
        Assert.Equal(calls, callsAfterDecision);
        Assert.Equal(503, down.Result.Status);
        Assert.True(tolerated.Admitted);
        Assert.True(back.Admitted);
        Assert.Equal("distributed/unavailable", strictFaults.Decisions[1]);
    }
}
