using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using ServerlessGateway.Registry;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class TableConfigStoreTests(AzuriteServer azurite)
{
    private const string Seed = """{"_format_version":"3.0","services":[{"name":"échange","url":"http://backend:8080"}]}""";

    private readonly TableNames _names = TestStores.NewNames();

    [Fact(Timeout = 30_000)]
    public async Task Every_call_to_Table_Storage_is_counted_as_a_config_transaction()
    {
        using var recorder = new TransactionRecorder();
        var store = TestStores.Create(azurite.ConnectionString, _names, metrics: recorder.Metrics);

        var head = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        // Create the table, read the pointer, write the rows (one transaction), add the pointer, write the history row.
        Assert.Equal(
            new Dictionary<string, int> { ["create_table"] = 1, ["get"] = 1, ["upsert_batch"] = 1, ["insert"] = 1, ["upsert"] = 1 },
            recorder.ByOperation(TableTransactionCounter.ConfigStore));
        recorder.Clear();
        Assert.Equal(Seed, await store.ReadAsync(head.Version, CancellationToken.None));
        Assert.Equal(new Dictionary<string, int> { ["get"] = 1, ["query"] = 1 }, recorder.ByOperation(TableTransactionCounter.ConfigStore));
        Assert.Equal(0, recorder.Total(TableTransactionCounter.RateLimitStore));
    }

    [Fact(Timeout = 30_000)]
    public async Task GetHeadAsync_NothingPublished_ReturnsNull()
    {
        var store = NewStore();

        Assert.Null(await store.GetHeadAsync(CancellationToken.None));
        Assert.Empty(await store.ListVersionsAsync(CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishAsync_FirstPublishOnAnEmptyTable_ReadsBackTheSameDocument()
    {
        var store = NewStore();

        var head = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        Assert.Equal(1, head.Version);
        Assert.False(string.IsNullOrEmpty(head.ETag));
        Assert.Equal(head, await store.GetHeadAsync(CancellationToken.None));
        Assert.Equal(Seed, await store.ReadAsync(1, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_second_instance_on_the_same_table_sees_the_published_version()
    {
        var writer = NewStore();
        var reader = NewStore();

        var head = await writer.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        Assert.Equal(head, await reader.GetHeadAsync(CancellationToken.None));
        Assert.Equal(Seed, await reader.ReadAsync(head.Version, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishAsync_EmptyDocument_RoundTrips()
    {
        var store = NewStore();

        var head = await store.PublishAsync(null, "", TestStores.Change(), CancellationToken.None);

        Assert.Equal("", await store.ReadAsync(head.Version, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishAsync_NoExpectedHeadWhenAVersionExists_Conflicts()
    {
        var store = NewStore();
        var first = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        await Assert.ThrowsAsync<ConfigConflictException>(() => store.PublishAsync(null, "other", TestStores.Change(), CancellationToken.None));

        Assert.Equal(first, await store.GetHeadAsync(CancellationToken.None));
        Assert.Equal(Seed, await store.ReadAsync(1, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishAsync_StaleHead_ConflictsAndChangesNothing()
    {
        var store = NewStore();
        var v1 = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);
        var v2 = await store.PublishAsync(v1, "second", TestStores.Change(), CancellationToken.None);

        await Assert.ThrowsAsync<ConfigConflictException>(() => store.PublishAsync(v1, "lost", TestStores.Change(), CancellationToken.None));

        Assert.Equal(v2, await store.GetHeadAsync(CancellationToken.None));
        Assert.Equal("second", await store.ReadAsync(2, CancellationToken.None));
        Assert.Null(await store.ReadAsync(3, CancellationToken.None));
        Assert.Equal([2L, 1L], (await store.ListVersionsAsync(CancellationToken.None)).Select(v => v.Version));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishAsync_HeadWithAnOutdatedETag_Conflicts()
    {
        var store = NewStore();
        var v1 = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        await Assert.ThrowsAsync<ConfigConflictException>(
            () => store.PublishAsync(v1 with { ETag = "W/\"datetime'2000-01-01T00%3A00%3A00.0000000Z'\"" }, "x", TestStores.Change(), CancellationToken.None));

        Assert.Equal(v1, await store.GetHeadAsync(CancellationToken.None));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(long.MaxValue)]
    public async Task ReadAsync_VersionThatDoesNotExist_ReturnsNull(long version)
    {
        var store = NewStore();
        await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);

        Assert.Null(await store.ReadAsync(version, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task ReadAsync_OnAnEmptyTable_ReturnsNull()
    {
        Assert.Null(await NewStore().ReadAsync(1, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task Versions_increase_and_are_listed_newest_first_with_actor_action_sha_and_size()
    {
        var store = NewStore();
        string[] documents = [Seed, Seed + " ", "{}"];
        ConfigHead? head = null;
        for (var i = 0; i < documents.Length; i++)
        {
            head = await store.PublishAsync(head, documents[i], TestStores.Change($"key:{i}", i == 0 ? "import" : "update", minute: i), CancellationToken.None);
            Assert.Equal(i + 1, head.Version);
        }

        var versions = await store.ListVersionsAsync(CancellationToken.None);

        Assert.Equal([3L, 2L, 1L], versions.Select(v => v.Version));
        foreach (var info in versions)
        {
            var i = (int)info.Version - 1;
            var utf8 = Encoding.UTF8.GetBytes(documents[i]);
            Assert.Equal($"key:{i}", info.Actor);
            Assert.Equal(i == 0 ? "import" : "update", info.Action);
            Assert.Equal(TestStores.Epoch.AddMinutes(i), info.CreatedAt);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(utf8)), info.Sha256);
            Assert.Equal(utf8.Length, info.Size);
            Assert.Equal(documents[i], await store.ReadAsync(info.Version, CancellationToken.None));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_writer_that_died_before_switching_the_pointer_does_not_block_the_next_publish()
    {
        var store = NewStore();
        var v1 = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);
        // What a crashed writer leaves: complete rows of version 2 that nothing points at.
        var raw = Raw();
        var orphan = Guid.NewGuid().ToString("N");
        var encoded = EncodedDocument.Encode("orphan");
        var record = new VersionRecord(2, orphan, TestStores.Epoch, "key:crashed", "update", encoded.Sha256, encoded.Size, encoded.Compressed.Length, 1);
        await raw.AddEntityAsync(record.ToEntity(ConfigRows.VersionPartition(2), ConfigRows.MetaRow(orphan)));
        foreach (var chunk in ConfigRows.ChunkEntities(2, orphan, encoded.Compressed))
        {
            await raw.AddEntityAsync(chunk);
        }

        Assert.Equal(v1, await store.GetHeadAsync(CancellationToken.None));
        Assert.Null(await store.ReadAsync(2, CancellationToken.None));
        Assert.Single(await store.ListVersionsAsync(CancellationToken.None));

        var v2 = await store.PublishAsync(v1, "after the crash", TestStores.Change(), CancellationToken.None);

        Assert.Equal(2, v2.Version);
        Assert.Equal("after the crash", await store.ReadAsync(2, CancellationToken.None));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_version_whose_history_row_was_never_written_stays_readable_after_the_next_publish()
    {
        var store = NewStore();
        var v1 = await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);
        var v2 = await store.PublishAsync(v1, "two", TestStores.Change(actor: "key:two"), CancellationToken.None);
        // A writer that died right after switching the pointer, before writing the history row.
        await Raw().DeleteEntityAsync(ConfigRows.HistoryPartition, ConfigRows.HistoryRow(2));
        Assert.Equal("two", await store.ReadAsync(2, CancellationToken.None));

        await store.PublishAsync(v2, "three", TestStores.Change(), CancellationToken.None);

        Assert.Equal("two", await store.ReadAsync(2, CancellationToken.None));
        var versions = await store.ListVersionsAsync(CancellationToken.None);
        Assert.Equal([3L, 2L, 1L], versions.Select(v => v.Version));
        Assert.Equal("key:two", versions[1].Actor);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReadAsync_DamagedChunk_ThrowsInsteadOfServingIt()
    {
        var store = NewStore();
        await store.PublishAsync(null, Seed, TestStores.Change(), CancellationToken.None);
        var raw = Raw();
        var chunk = Assert.Single(await TestStores.ChunkRowsAsync(raw, 1));
        var bytes = chunk.GetBinary("D00")!;
        bytes[^5] ^= 0x20;
        chunk["D00"] = bytes;
        await raw.UpdateEntityAsync(chunk, ETag.All, TableUpdateMode.Replace);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync(1, CancellationToken.None));

        Assert.Contains("version 1", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Concurrent_first_users_all_create_the_table_and_agree_on_the_empty_head()
    {
        var stores = Enumerable.Range(0, 6).Select(_ => NewStore()).ToList();

        var heads = await Task.WhenAll(stores.Select(s => s.GetHeadAsync(CancellationToken.None)));

        Assert.All(heads, Assert.Null);
        var service = new TableServiceClient(azurite.ConnectionString);
        Assert.Single(service.QueryAsync(t => t.Name == _names.Config).ToBlockingEnumerable());
    }

    private TableConfigStore NewStore() => TestStores.Create(azurite.ConnectionString, _names);

    private TableClient Raw() => TestStores.RawTable(azurite.ConnectionString, _names);
}
