using System.Diagnostics;
using Azure;
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
        foreach (var operation in operations)
        {
            var elapsed = Stopwatch.StartNew();
            var error = await Assert.ThrowsAnyAsync<Exception>(operation);
            AssertUnreachable(error);
            Assert.True(elapsed.Elapsed < FailureBound, $"took {elapsed.Elapsed}");
        }
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

    /// <summary>The SDK reports transport failures as <see cref="RequestFailedException"/>, after its retries wrapped in an <see cref="AggregateException"/>.</summary>
    private static void AssertUnreachable(Exception error)
    {
        Assert.IsNotType<ConfigConflictException>(error);
        var failures = error is AggregateException aggregate ? aggregate.InnerExceptions : [error];
        Assert.All(failures, f => Assert.Equal(0, Assert.IsType<RequestFailedException>(f).Status));
    }
}
