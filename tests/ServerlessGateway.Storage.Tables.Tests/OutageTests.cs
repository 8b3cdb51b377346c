using System.Diagnostics;
using Azure;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Registry;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

/// <summary>Each test stops an Azurite of its own.</summary>
public sealed class OutageTests
{
    /// <summary>
    /// What the client options allow: 3 tries of at most 5 s each plus backoff. Against a stopped
    /// emulator the connection is refused at once, so this is far from reached.
    /// </summary>
    private static readonly TimeSpan FailureBound = TimeSpan.FromSeconds(20);

    /// <summary>A counter of the minute window around <see cref="TestStores.Epoch"/>.</summary>
    private static readonly KeyValuePair<CounterId, CounterValue> RateLimitCount =
        KeyValuePair.Create(new CounterId("k", RateLimitPeriod.Minute, TestStores.Epoch.AddSeconds(-7)), new CounterValue(1, 1, 0));

    [Fact(Timeout = 90_000)]
    public async Task PingAsync_WhileAzuriteIsStopped_ThrowsAndSucceedsAgainAfterARestart()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var store = TestStores.Create(azurite.ConnectionString, TestStores.NewNames());
        await store.PingAsync(CancellationToken.None);

        await azurite.StopAsync();
        var elapsed = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => store.PingAsync(CancellationToken.None));
        AssertUnreachable(error);
        Assert.True(elapsed.Elapsed < FailureBound, $"ping took {elapsed.Elapsed}");

        await azurite.StartAsync();
        await store.PingAsync(CancellationToken.None);
    }

    [Fact(Timeout = 90_000)]
    public async Task Every_operation_fails_promptly_while_Azurite_is_stopped_instead_of_hanging()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var store = TestStores.Create(azurite.ConnectionString, TestStores.NewNames());
        var head = await store.PublishAsync(null, "{}", TestStores.Change(), CancellationToken.None);
        await azurite.StopAsync();

        Func<Task>[] operations =
        [
            () => store.GetHeadAsync(CancellationToken.None),
            () => store.PublishAsync(head, "{\"x\":1}", TestStores.Change(), CancellationToken.None),
            () => store.ReadAsync(1, CancellationToken.None),
            () => store.ListVersionsAsync(CancellationToken.None),
        ];
        await AssertEachFailsPromptlyAsync(operations);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_store_whose_table_vanished_in_a_restart_starts_over_at_version_1()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var port = azurite.Port;
        var store = TestStores.Create(azurite.ConnectionString, TestStores.NewNames());
        await store.PublishAsync(null, "before", TestStores.Change(), CancellationToken.None);

        await azurite.StopAsync();
        await azurite.StartAsync();

        Assert.Equal(port, azurite.Port);
        Assert.Null(await store.GetHeadAsync(CancellationToken.None));
        var head = await store.PublishAsync(null, "after", TestStores.Change(), CancellationToken.None);
        Assert.Equal(1, head.Version);
        Assert.Equal("after", await store.ReadAsync(1, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task PingAsync_CallerCancels_Throws()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var store = TestStores.Create(azurite.ConnectionString, TestStores.NewNames());
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PingAsync(cancelled.Token));
    }

    [Fact(Timeout = 90_000)]
    public async Task Every_rate_limit_operation_fails_promptly_while_Azurite_is_stopped_and_works_again_after_a_restart()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var store = TestStores.CreateRateLimit(azurite.ConnectionString, TestStores.NewNames());
        await store.SyncAsync("a", [RateLimitCount], [], CancellationToken.None);
        await store.TryIncrementAsync(RateLimitCount.Key, 10, CancellationToken.None);
        await azurite.StopAsync();

        await AssertEachFailsPromptlyAsync(RateLimitOperations(store, CancellationToken.None));

        // The restarted emulator lost every table: the store creates them again as it writes.
        await azurite.StartAsync();
        var read = await store.SyncAsync("a", [RateLimitCount], [], CancellationToken.None);
        Assert.Equal(RateLimitCount.Value, read[RateLimitCount.Key]["a"]);
        Assert.Equal(new StrictIncrement(true, 1), await store.TryIncrementAsync(RateLimitCount.Key, 10, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task Rate_limit_operations_honour_a_cancelled_token()
    {
        await using var azurite = await AzuriteServer.StartNewAsync();
        var store = TestStores.CreateRateLimit(azurite.ConnectionString, TestStores.NewNames());
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        foreach (var operation in RateLimitOperations(store, cancelled.Token))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(operation);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_rate_limit_call_against_a_hung_server_ends_when_the_caller_cancels()
    {
        // A listener that accepts connections and never answers: only the token can end the call in time.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var connection = $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};" +
            $"TableEndpoint=http://127.0.0.1:{port}/{AzuriteServer.AccountName};";
        var store = TestStores.CreateRateLimit(connection, TestStores.NewNames());
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var elapsed = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SyncAsync("a", [RateLimitCount], [], timeout.Token));

        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(3), $"took {elapsed.Elapsed}");
    }

    /// <summary>Every operation of the rate-limit port, on <see cref="RateLimitCount"/>.</summary>
    private static Func<Task>[] RateLimitOperations(TableRateLimitStore store, CancellationToken cancellationToken) =>
    [
        () => store.SyncAsync("a", [RateLimitCount], [], cancellationToken),
        () => store.SyncAsync("a", [], [RateLimitCount.Key], cancellationToken),
        () => store.TryIncrementAsync(RateLimitCount.Key, 10, cancellationToken),
        () => store.HeartbeatAsync("a", TimeSpan.FromSeconds(30), cancellationToken),
        () => store.DropExpiredAsync(TestStores.Epoch, cancellationToken),
    ];

    private static async Task AssertEachFailsPromptlyAsync(IEnumerable<Func<Task>> operations)
    {
        foreach (var operation in operations)
        {
            var elapsed = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<Exception>(operation);
            AssertUnreachable(error);
            Assert.True(elapsed.Elapsed < FailureBound, $"took {elapsed.Elapsed}");
        }
    }

    /// <summary>The SDK reports transport failures as <see cref="RequestFailedException"/>, after its retries wrapped in an <see cref="AggregateException"/>.</summary>
    private static void AssertUnreachable(Exception error)
    {
        Assert.IsNotType<ConfigConflictException>(error);
        var failures = error is AggregateException aggregate ? aggregate.InnerExceptions : [error];
        Assert.All(failures, f => Assert.Equal(0, Assert.IsType<RequestFailedException>(f).Status));
    }
}
