using Azure.Data.Tables;
using ServerlessGateway.Registry;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class ConcurrencyTests(AzuriteServer azurite)
{
    private const int Writers = 8;

    private readonly TableNames _names = TestStores.NewNames();

    [Fact(Timeout = 60_000)]
    public async Task Writers_publishing_on_the_same_head_at_once_exactly_one_wins_and_the_others_conflict()
    {
        var v1 = await TestStores.Create(azurite.ConnectionString, _names).PublishAsync(null, "base", TestStores.Change(), CancellationToken.None);
        var stores = Enumerable.Range(0, Writers).Select(_ => TestStores.Create(azurite.ConnectionString, _names)).ToList();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var attempts = stores.Select(async (store, i) =>
        {
            await go.Task;
            try
            {
                return (Writer: i, Head: await store.PublishAsync(v1, $"writer {i}", TestStores.Change($"key:{i}"), CancellationToken.None));
            }
            catch (ConfigConflictException)
            {
                return (Writer: i, Head: (ConfigHead?)null);
            }
        }).ToList();
        go.SetResult();
        var results = await Task.WhenAll(attempts);

        var winner = Assert.Single(results, r => r.Head is not null);
        Assert.Equal(2, winner.Head!.Version);
        var reader = stores[0];
        Assert.Equal(winner.Head, await reader.GetHeadAsync(CancellationToken.None));
        Assert.Equal($"writer {winner.Writer}", await reader.ReadAsync(2, CancellationToken.None));
        Assert.Equal([2L, 1L], (await reader.ListVersionsAsync(CancellationToken.None)).Select(v => v.Version));
        // The losers removed their rows: only the winner's attempt remains in the version's partition.
        var attemptsLeft = new HashSet<string>();
        await foreach (var row in TestStores.RawTable(azurite.ConnectionString, _names)
            .QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ConfigRows.VersionPartition(2)}")))
        {
            attemptsLeft.Add(row.RowKey[..row.RowKey.IndexOf('.', StringComparison.Ordinal)]);
        }

        Assert.Single(attemptsLeft);
    }

    [Fact(Timeout = 60_000)]
    public async Task Writers_that_retry_on_conflict_land_every_change_exactly_once()
    {
        await TestStores.Create(azurite.ConnectionString, _names).PublishAsync(null, "base", TestStores.Change(), CancellationToken.None);
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var writers = Enumerable.Range(0, Writers).Select(async i =>
        {
            var store = TestStores.Create(azurite.ConnectionString, _names);
            await go.Task;
            for (var attempt = 1; attempt <= 100; attempt++)
            {
                // Read-modify-write, as the management API does: a stale read must never win.
                var head = await store.GetHeadAsync(CancellationToken.None);
                var document = await store.ReadAsync(head!.Version, CancellationToken.None);
                try
                {
                    await store.PublishAsync(head, document + $"\nwriter {i}", TestStores.Change($"key:{i}", "update"), CancellationToken.None);
                    return attempt;
                }
                catch (ConfigConflictException)
                {
                }
            }

            throw new InvalidOperationException($"writer {i} never got its change in");
        }).ToList();
        go.SetResult();
        var tries = await Task.WhenAll(writers);

        var reader = TestStores.Create(azurite.ConnectionString, _names);
        var head = await reader.GetHeadAsync(CancellationToken.None);
        Assert.Equal(1 + Writers, head!.Version);
        var lines = (await reader.ReadAsync(head.Version, CancellationToken.None))!.Split('\n');
        Assert.Equal("base", lines[0]);
        Assert.Equal(Enumerable.Range(0, Writers).Select(i => $"writer {i}").Order(), lines.Skip(1).Order());
        var versions = await reader.ListVersionsAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 1 + Writers).Reverse().Select(v => (long)v), versions.Select(v => v.Version));
        Assert.Equal(Enumerable.Range(0, Writers).Select(i => $"key:{i}").Order(), versions.SkipLast(1).Select(v => v.Actor).Order());
        Assert.True(tries.Max() > 1, "the writers never raced; the test proved nothing");
    }
}
