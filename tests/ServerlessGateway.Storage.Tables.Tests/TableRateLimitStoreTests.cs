using Azure.Data.Tables;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class TableRateLimitStoreTests(AzuriteServer azurite) : IDisposable
{
    private const string Store = TableTransactionCounter.RateLimitStore;
    private static readonly DateTimeOffset Minute = new(2025, 3, 4, 5, 6, 0, TimeSpan.Zero);
    private static readonly string[] Instances = ["instance-a", "instance-b", "instance-c"];

    private readonly TableNames _names = TestStores.NewNames();
    private readonly TransactionRecorder _recorder = new();

    public void Dispose() => _recorder.Dispose();

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_ThreeInstances_EachReadsEveryInstancesValues()
    {
        var stores = Instances.Select(_ => NewStore()).ToList();
        var hot = Id("route:1:consumer:alice");
        var other = Id("route:1:consumer:bob");

        for (var i = 0; i < stores.Count; i++)
        {
            await stores[i].SyncAsync(Instances[i], [KeyValuePair.Create(hot, Value(i))], [], CancellationToken.None);
        }

        await stores[0].SyncAsync(Instances[0], [KeyValuePair.Create(other, Value(7))], [], CancellationToken.None);
        for (var i = 0; i < stores.Count; i++)
        {
            var read = await stores[i].SyncAsync(Instances[i], [KeyValuePair.Create(hot, Value(i))], [other], CancellationToken.None);

            Assert.Equal(Instances.Select((instance, j) => KeyValuePair.Create(instance, Value(j))).OrderBy(p => p.Key), read[hot].OrderBy(p => p.Key));
            Assert.Equal(Value(7), Assert.Single(read[other]).Value);
            Assert.Equal(Instances[0], read[other].Keys.Single());
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_RewritingValues_ReplacesThemInsteadOfAdding()
    {
        var store = NewStore();
        var id = Id("k");

        await store.SyncAsync("a", [KeyValuePair.Create(id, new CounterValue(5, 6, 1))], [], CancellationToken.None);
        await store.SyncAsync("a", [KeyValuePair.Create(id, new CounterValue(5, 6, 1))], [], CancellationToken.None);
        var read = await store.SyncAsync("a", [KeyValuePair.Create(id, new CounterValue(9, 12, 0))], [], CancellationToken.None);

        Assert.Equal(new CounterValue(9, 12, 0), Assert.Single(read[id]).Value);
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_IdsNobodyWrote_AreAbsent_AndAReadCreatesNoTable()
    {
        var store = NewStore();

        var read = await store.SyncAsync("a", [], [Id("never"), Id("never either", RateLimitPeriod.Day, Minute.Date)], CancellationToken.None);

        Assert.Empty(read);
        Assert.Empty(await TestStores.TableNamesAsync(azurite.ConnectionString, _names));
        Assert.False(_recorder.ByOperation(Store).ContainsKey("create_table"));
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_KeysWithAnyCharacters_StayApart()
    {
        var store = NewStore();
        string[] keys = ["a", "a|b", "a/b", "a_b", "a#b?c\\d", "ctrl\u0001\u007f", "Grüße 😀", "", new string('x', 2000), new string('x', 1999) + "y"];
        var counts = keys.Select((k, i) => KeyValuePair.Create(Id(k), new CounterValue(i, i, i))).ToList();

        var read = await store.SyncAsync("odd/instance#1|x", counts, [], CancellationToken.None);

        Assert.Equal(keys.Length, read.Count);
        foreach (var (id, value) in counts)
        {
            var (instance, stored) = Assert.Single(read[id]);
            Assert.Equal("odd/instance#1|x", instance);
            Assert.Equal(value, stored);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task SyncAsync_MoreThan1000RowsInOneWindow_IsBatchedAndPaged()
    {
        // 400 keys x 3 instances = 1,200 rows in one partition: 4 transactions per instance to write, 2 pages to read.
        const int Keys = 400;
        var ids = Enumerable.Range(0, Keys).Select(i => Id($"consumer:{i:D4}")).ToList();
        var stores = Instances.Select(_ => NewStore()).ToList();
        for (var i = 0; i < stores.Count; i++)
        {
            await stores[i].SyncAsync(Instances[i], [.. ids.Select(id => KeyValuePair.Create(id, Value(i)))], [], CancellationToken.None);
        }

        _recorder.Clear();
        var read = await stores[0].SyncAsync(Instances[0], [.. ids.Select(id => KeyValuePair.Create(id, Value(0)))], [], CancellationToken.None);

        Assert.Equal(Keys, read.Count);
        Assert.All(ids, id => Assert.Equal(Instances.Order(), read[id].Keys.Order()));
        Assert.All(ids, id => Assert.Equal(Value(2), read[id]["instance-c"]));
        var cost = _recorder.ByOperation(Store);
        Assert.Equal(4, cost["upsert_batch"]);
        Assert.Equal(2, cost["query"]);
        Assert.Equal(6, _recorder.Total(Store));
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_OneKeyOfABigWindow_ReadsOnlyThatKeysRows()
    {
        var ids = Enumerable.Range(0, 30).Select(i => Id($"k{i}")).ToList();
        foreach (var instance in Instances)
        {
            await NewStore().SyncAsync(instance, [.. ids.Select(id => KeyValuePair.Create(id, Value(1)))], [], CancellationToken.None);
        }

        var store = NewStore();
        _recorder.Clear();
        var read = await store.SyncAsync("d", [KeyValuePair.Create(ids[3], Value(4))], [], CancellationToken.None);

        Assert.Equal(4, read[ids[3]].Count);
        Assert.Single(read);
        // First write into a bucket this process has not seen: create (once), upsert, one range query.
        Assert.Equal(new Dictionary<string, int> { ["create_table"] = 1, ["upsert_batch"] = 1, ["query"] = 1 }, _recorder.ByOperation(Store));
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncAsync_CountsByWindow_GoToTheirBucketTables()
    {
        var store = NewStore();
        CounterId[] ids =
        [
            Id("k", RateLimitPeriod.Second, Minute.AddSeconds(59)),
            Id("k", RateLimitPeriod.Minute, Minute),
            Id("k", RateLimitPeriod.Hour, Minute.AddMinutes(-6)),
            Id("k", RateLimitPeriod.Day, new DateTimeOffset(Minute.Date, TimeSpan.Zero)),
            Id("k", RateLimitPeriod.Month, new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero)),
            Id("k", RateLimitPeriod.Year, new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        ];

        var read = await store.SyncAsync("a", [.. ids.Select((id, i) => KeyValuePair.Create(id, Value(i)))], [], CancellationToken.None);

        Assert.Equal(ids.Length, read.Count);
        Assert.All(ids.Select((id, i) => (id, i)), p => Assert.Equal(Value(p.i), read[p.id]["a"]));
        Assert.Equal(
            [_names.Prefix + "RlD20250304", _names.Prefix + "RlH2025030405", _names.Prefix + "RlM202503", _names.Prefix + "RlY2025"],
            await TestStores.TableNamesAsync(azurite.ConnectionString, _names));
    }

    [Fact(Timeout = 60_000)]
    public async Task DropExpiredAsync_DropsEndedBucketsOnly_AndALaterSyncRecreatesItsTable()
    {
        var store = NewStore();
        var now = Minute.AddMinutes(5); // 05:11 on 2025-03-04
        var previousHour = Id("k", RateLimitPeriod.Minute, Minute.AddHours(-1));      // bucket ended 05:00, more than the grace ago
        var twoHoursAgo = Id("k", RateLimitPeriod.Second, Minute.AddHours(-2));
        var current = Id("k", RateLimitPeriod.Minute, Minute);
        var yesterday = Id("k", RateLimitPeriod.Hour, Minute.AddDays(-1).AddMinutes(-6));
        var today = Id("k", RateLimitPeriod.Hour, Minute.AddMinutes(-6));
        var lastYear = Id("k", RateLimitPeriod.Year, new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var thisMonth = Id("k", RateLimitPeriod.Day, new DateTimeOffset(Minute.Date, TimeSpan.Zero));
        CounterId[] all = [previousHour, twoHoursAgo, current, yesterday, today, lastYear, thisMonth];
        await store.SyncAsync("a", [.. all.Select(id => KeyValuePair.Create(id, Value(1)))], [], CancellationToken.None);
        await store.HeartbeatAsync("a", TimeSpan.FromMinutes(1), CancellationToken.None);
        var other = TestStores.CreateRateLimit(azurite.ConnectionString, _names);
        await other.SyncAsync("b", [KeyValuePair.Create(previousHour, Value(2))], [], CancellationToken.None);

        await store.DropExpiredAsync(now, CancellationToken.None);

        var p = _names.Prefix;
        Assert.Equal([p + "RlD20250304", p + "RlH2025030405", p + "RlInstances", p + "RlM202503"], await TestStores.TableNamesAsync(azurite.ConnectionString, _names));
        var read = await store.SyncAsync("a", [], all, CancellationToken.None);
        Assert.Equal([current, today, thisMonth], read.Keys.OrderBy(k => k.Period).ThenBy(k => k.WindowStart));

        // A late writer that still believes in the dropped table: its write creates the table again.
        var late = await other.SyncAsync("b", [KeyValuePair.Create(previousHour, Value(3))], [], CancellationToken.None);
        Assert.Equal(Value(3), Assert.Single(late[previousHour]).Value);
        Assert.Contains(p + "RlH2025030404", await TestStores.TableNamesAsync(azurite.ConnectionString, _names));
    }

    [Fact(Timeout = 60_000)]
    public async Task DropExpiredAsync_WithinTheGraceOfABucketsEnd_KeepsIt()
    {
        var store = NewStore();
        var lastMinute = Id("k", RateLimitPeriod.Minute, new DateTimeOffset(2025, 3, 4, 4, 59, 0, TimeSpan.Zero));
        await store.SyncAsync("a", [KeyValuePair.Create(lastMinute, Value(1))], [], CancellationToken.None);

        await store.DropExpiredAsync(new DateTimeOffset(2025, 3, 4, 5, 0, 0, TimeSpan.Zero) + RateLimitRows.DropGrace - TimeSpan.FromSeconds(1), CancellationToken.None);
        Assert.Equal([_names.Prefix + "RlH2025030404"], await TestStores.TableNamesAsync(azurite.ConnectionString, _names));

        await store.DropExpiredAsync(new DateTimeOffset(2025, 3, 4, 5, 0, 0, TimeSpan.Zero) + RateLimitRows.DropGrace, CancellationToken.None);
        Assert.Empty(await TestStores.TableNamesAsync(azurite.ConnectionString, _names));
    }

    [Fact(Timeout = 120_000)]
    public async Task TryIncrementAsync_ManyConcurrentCallers_AdmitExactlyTheLimit()
    {
        const long Limit = 25;
        const int Callers = 8;
        var id = Id("strict:k");
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var conflicts = 0;

        var callers = Enumerable.Range(0, Callers).Select(async _ =>
        {
            var store = NewStore();
            await go.Task;
            var admitted = new List<long>();
            for (var calls = 0; calls < 500; calls++)
            {
                try
                {
                    var result = await store.TryIncrementAsync(id, Limit, CancellationToken.None);
                    if (!result.Admitted)
                    {
                        Assert.Equal(Limit, result.Count);
                        return admitted;
                    }

                    admitted.Add(result.Count);
                }
                catch (RateLimitContentionException)
                {
                    Interlocked.Increment(ref conflicts);
                }
            }

            throw new InvalidOperationException("a caller was never refused");
        }).ToList();
        go.SetResult();
        var results = await Task.WhenAll(callers);

        var counts = results.SelectMany(r => r).Order().ToList();
        Assert.Equal(Enumerable.Range(1, (int)Limit).Select(i => (long)i), counts);
        Assert.True(_recorder.ByOperation(Store).GetValueOrDefault("update") + _recorder.ByOperation(Store).GetValueOrDefault("insert") > Limit,
            "no write ever conflicted: the callers never raced and the test proved nothing");
        var refused = await NewStore().TryIncrementAsync(id, Limit, CancellationToken.None);
        Assert.Equal(new StrictIncrement(false, Limit), refused);
    }

    [Fact(Timeout = 60_000)]
    public async Task TryIncrementAsync_RememberedRow_SkipsTheRead_AndAStaleOneCostsOneRead()
    {
        var id = Id("strict:k");
        var a = NewStore();
        var b = NewStore();
        Assert.Equal(new StrictIncrement(true, 1), await a.TryIncrementAsync(id, 10, CancellationToken.None));

        _recorder.Clear();
        Assert.Equal(new StrictIncrement(true, 2), await a.TryIncrementAsync(id, 10, CancellationToken.None));
        Assert.Equal(new Dictionary<string, int> { ["update"] = 1 }, _recorder.ByOperation(Store));

        Assert.Equal(new StrictIncrement(true, 3), await b.TryIncrementAsync(id, 10, CancellationToken.None));
        _recorder.Clear();
        Assert.Equal(new StrictIncrement(true, 4), await a.TryIncrementAsync(id, 10, CancellationToken.None));
        Assert.Equal(new Dictionary<string, int> { ["update"] = 2, ["get"] = 1 }, _recorder.ByOperation(Store));
    }

    [Fact(Timeout = 60_000)]
    public async Task TryIncrementAsync_EveryTryConflicting_ThrowsRateLimitContentionException()
    {
        var id = Id("strict:k");
        var a = TestStores.CreateRateLimit(azurite.ConnectionString, _names, maxStrictAttempts: 1);
        var b = NewStore();
        await a.TryIncrementAsync(id, 10, CancellationToken.None);
        await b.TryIncrementAsync(id, 10, CancellationToken.None);

        // a's remembered ETag is stale: its one try is a 412.
        await Assert.ThrowsAsync<RateLimitContentionException>(() => a.TryIncrementAsync(id, 10, CancellationToken.None));

        Assert.Equal(new StrictIncrement(true, 3), await a.TryIncrementAsync(id, 10, CancellationToken.None));
    }

    [Fact(Timeout = 60_000)]
    public async Task TryIncrementAsync_AtTheLimit_RefusesWithoutWriting()
    {
        var store = NewStore();
        var id = Id("strict:k");
        Assert.Equal(new StrictIncrement(true, 1), await store.TryIncrementAsync(id, 2, CancellationToken.None));
        Assert.Equal(new StrictIncrement(true, 2), await store.TryIncrementAsync(id, 2, CancellationToken.None));

        _recorder.Clear();
        Assert.Equal(new StrictIncrement(false, 2), await store.TryIncrementAsync(id, 2, CancellationToken.None));
        Assert.Equal(new StrictIncrement(false, 0), await store.TryIncrementAsync(Id("strict:zero"), 0, CancellationToken.None));
        Assert.Equal(new Dictionary<string, int> { ["get"] = 1 }, _recorder.ByOperation(Store));
        // Strict rows live apart from the sharded rows of the same key.
        Assert.Empty(await store.SyncAsync("a", [], [id], CancellationToken.None));
    }

    [Fact(Timeout = 60_000)]
    public async Task HeartbeatAsync_CountsTheInstancesSeenWithinLiveness()
    {
        var time = new FakeTimeProvider(Minute);
        var liveness = TimeSpan.FromSeconds(30);
        var a = TestStores.CreateRateLimit(azurite.ConnectionString, _names, time);
        var b = TestStores.CreateRateLimit(azurite.ConnectionString, _names, time);
        var c = TestStores.CreateRateLimit(azurite.ConnectionString, _names, time);

        Assert.Equal(1, await a.HeartbeatAsync("a", liveness, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, await b.HeartbeatAsync("b/1", liveness, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(25));
        Assert.Equal(2, await c.HeartbeatAsync("c", liveness, CancellationToken.None)); // a was last seen 35 s ago
        Assert.Equal(3, await a.HeartbeatAsync("a", liveness, CancellationToken.None));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, await b.HeartbeatAsync("b/1", liveness, CancellationToken.None));
        time.Advance(RateLimitRows.ForgetInstanceAfter);
        Assert.Equal(1, await b.HeartbeatAsync("b/1", liveness, CancellationToken.None));

        // Instances gone for longer than a day are forgotten: only b's row is left.
        var rows = new List<string>();
        await foreach (var row in new TableServiceClient(azurite.ConnectionString).GetTableClient(_names.Prefix + "RlInstances").QueryAsync<TableEntity>())
        {
            rows.Add(row.GetString("Instance"));
        }

        Assert.Equal(["b/1"], rows);
    }

    [Fact(Timeout = 120_000)]
    public async Task Transactions_PerSync_ScaleWithKeysAndInstances()
    {
        // Measured cost of one steady-state sync round (tables exist): K keys written by each of 3 instances, each reading the sums.
        foreach (var keys in new[] { 1, 10, 150 })
        {
            var names = TestStores.NewNames();
            var ids = Enumerable.Range(0, keys).Select(i => Id($"k{i}")).ToList();
            var stores = Instances.Select(_ => TestStores.CreateRateLimit(azurite.ConnectionString, names, metrics: _recorder.Metrics)).ToList();
            for (var i = 0; i < stores.Count; i++)
            {
                await stores[i].SyncAsync(Instances[i], [.. ids.Select(id => KeyValuePair.Create(id, Value(i)))], [], CancellationToken.None);
            }

            _recorder.Clear();
            for (var i = 0; i < stores.Count; i++)
            {
                await stores[i].SyncAsync(Instances[i], [.. ids.Select(id => KeyValuePair.Create(id, Value(i + 1)))], [], CancellationToken.None);
            }

            // Each instance: ceil(K/100) upserts + (1 range query for one key | ceil(3K/1000) pages for many).
            var perInstance = ((keys + 99) / 100) + (keys == 1 ? 1 : ((3 * keys) + 999) / 1000);
            Assert.Equal(3 * perInstance, _recorder.Total(Store));
        }
    }

    private TableRateLimitStore NewStore() => TestStores.CreateRateLimit(azurite.ConnectionString, _names, metrics: _recorder.Metrics);

    private static CounterId Id(string key, RateLimitPeriod period = RateLimitPeriod.Minute, DateTimeOffset? start = null) =>
        new(key, period, start ?? Minute);

    private static CounterValue Value(int i) => new(10 + i, 20 + i, i);
}
