using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>One distributed limiter's bookkeeping: store cost of idle keys, window roll-over and memory cleanup.</summary>
public sealed class DistributedRateLimiterTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static (DistributedRateLimiter Limiter, InMemoryRateLimitStore Store, FakeTimeProvider Time) Create()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryRateLimitStore(time);
        var limiter = new DistributedRateLimiter("a", new RateLimitStoreGuard(store, time, RateLimitStoreTimeouts.Default), time, TimeSpan.FromSeconds(1), NullLogger.Instance);
        return (limiter, store, time);
    }

    [Fact(Timeout = 10_000)]
    public async Task After_an_outage_seen_by_a_heartbeat_a_not_fault_tolerant_counter_recovers_without_other_traffic()
    {
        // Arrange: the store is down at a heartbeat while no counter exists; the only traffic is a fault_tolerant: false
        // plugin's, refused (503) before it creates a counter, so no sync has anything to write.
        var (limiter, store, time) = Create();
        PeriodLimit[] limits = [new(RateLimitPeriod.Minute, 100)];
        store.Failing = true;
        await limiter.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
        var during = limiter.TryAcquire("k", limits, false, null, faultTolerant: false, time.GetUtcNow(), new PeriodUsage[1]);

        // Act: the store is back; the background loop's next sync tick, then its next heartbeat (5 s later).
        store.Failing = false;
        time.Advance(TimeSpan.FromSeconds(1));
        await limiter.SyncAsync(flush: false, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));
        await limiter.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
        var after = limiter.TryAcquire("k", limits, false, null, faultTolerant: false, time.GetUtcNow(), new PeriodUsage[1]);

        // Assert
        Assert.Equal(RateLimitOutcome.Unavailable, during);
        Assert.True(limiter.StoreAvailable);
        Assert.Equal(RateLimitOutcome.Admitted, after);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_idle_key_is_synced_less_and_less_often()
    {
        // Arrange: one request on an hour limit, then an idle minute with a sync tick every second.
        var (limiter, store, time) = Create();
        limiter.TryAcquire("k", [new(RateLimitPeriod.Hour, 100)], false, null, true, time.GetUtcNow(), new PeriodUsage[1]);

        // Act
        for (var second = 0; second < 60; second++)
        {
            await limiter.SyncAsync(flush: false, CancellationToken.None);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        // Assert: 1 + idle refreshes after 2, 4, 8, 16 and 32 s, not 60.
        Assert.InRange(store.SyncCalls, 4, 7);
    }

    [Fact(Timeout = 10_000)]
    public async Task The_last_counts_of_an_ended_window_are_written_and_the_key_is_then_dropped_from_memory()
    {
        // Arrange: 3 requests late in a minute, no sync before it ends.
        var (limiter, store, time) = Create();
        time.Advance(TimeSpan.FromSeconds(59.5));
        PeriodLimit[] limits = [new(RateLimitPeriod.Minute, 100)];
        for (var i = 0; i < 3; i++)
        {
            limiter.TryAcquire("k", limits, false, null, true, time.GetUtcNow(), new PeriodUsage[1]);
        }

        // Act
        time.Advance(TimeSpan.FromSeconds(1));
        limiter.TryAcquire("k", limits, false, null, true, time.GetUtcNow(), new PeriodUsage[1]);
        await limiter.SyncAsync(flush: false, CancellationToken.None);
        var ended = store.Row(new CounterId("k", RateLimitPeriod.Minute, Start), "a");
        var current = store.Row(new CounterId("k", RateLimitPeriod.Minute, Start.AddMinutes(1)), "a");
        time.Advance(TimeSpan.FromMinutes(2));
        await limiter.SyncAsync(flush: false, CancellationToken.None);
        limiter.Sweep(time.GetUtcNow());

        // Assert
        Assert.Equal(new CounterValue(3, 3, 0), ended);
        Assert.Equal(1, current!.Value.Admitted);
        Assert.Equal(0, limiter.KeyCount);
    }

    [Fact(Timeout = 10_000)]
    public async Task Before_the_first_sync_a_new_counter_gets_the_limit_split_by_live_instances()
    {
        // Arrange: two other instances are alive.
        var (limiter, store, time) = Create();
        await store.HeartbeatAsync("b", TimeSpan.FromSeconds(20), CancellationToken.None);
        await store.HeartbeatAsync("c", TimeSpan.FromSeconds(20), CancellationToken.None);
        await limiter.HeartbeatAsync(TimeSpan.FromSeconds(20), CancellationToken.None);

        // Act
        var admitted = 0;
        for (var i = 0; i < 30; i++)
        {
            admitted += limiter.TryAcquire("k", [new(RateLimitPeriod.Minute, 30)], false, null, true, time.GetUtcNow(), new PeriodUsage[1]) == RateLimitOutcome.Admitted ? 1 : 0;
        }

        // Assert
        Assert.Equal(3, limiter.LiveInstances);
        Assert.Equal(10, admitted);
    }
}
