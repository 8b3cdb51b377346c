using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Observability;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Rate-limit counters on Azure Table Storage (DESIGN.md §4), laid out as <see cref="RateLimitRows"/> describes.
/// <para>
/// Cost. A sync of K keys of one window by one instance, with N instances writing that window, makes
/// <c>ceil(K / 100)</c> transactions (batched upserts) plus reads: one range query per key when the window's partition
/// is expected to need more pages than there are keys, else one query per 1,000 rows of the partition
/// (<c>ceil(K_all x N / 1000)</c>, K_all the keys all instances wrote). Across instances that is
/// <c>N x (ceil(K / 100) + ceil(K x N / 1000))</c> per sync interval: it grows with active keys x instances / sync
/// interval and not with requests. Upserts replace absolute values, so a retried batch (by the SDK or the caller) is
/// idempotent, and no two instances ever write the same row: sharded rows never conflict.
/// </para>
/// <para>
/// Tables are created on the first write into a bucket (<c>CreateIfNotExists</c> costs a transaction, so which
/// tables exist is cached per process) and dropped by <see cref="DropExpiredAsync"/>; a write that finds its table
/// gone creates it again once. Reads of a missing table are empty. Storage faults (<see cref="RequestFailedException"/>,
/// cancellation) propagate: the caller bounds calls with a timeout and a circuit breaker.
/// </para>
/// </summary>
internal sealed partial class TableRateLimitStore : IRateLimitStore
{
    public const int DefaultMaxStrictAttempts = 8;

    /// <summary>A transaction carries at most 100 entities of one partition.</summary>
    private const int MaxBatchEntities = 100;

    /// <summary>A query answers at most 1,000 entities a page.</summary>
    private const int RowsPerPage = 1000;

    /// <summary>Requests of one sync in flight at once: enough to hide latency, few enough to share 2 cores and a connection pool.</summary>
    private const int MaxConcurrentRequests = 8;

    /// <summary>Strict counters whose ETag is remembered; beyond it the cache starts over (windows end anyway).</summary>
    private const int MaxCachedStrictCounters = 100_000;

    private const string UpsertBatch = "upsert_batch";
    private const string Query = "query";
    private const string Get = "get";
    private const string Update = "update";
    private const string Insert = "insert";
    private const string CreateTable = "create_table";
    private const string DeleteTable = "delete_table";
    private const string Heartbeat = "heartbeat";
    private const string Delete = "delete";

    private static readonly string[] ShardColumns =
        ["RowKey", RateLimitRows.InstanceProperty, RateLimitRows.AdmittedProperty, RateLimitRows.OfferedProperty, RateLimitRows.ReservedProperty];

    private readonly TableServiceClient _service;
    private readonly TableNames _names;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TableRateLimitStore> _logger;
    private readonly TableTransactionCounter _transactions;

    /// <summary>Tables this process created or found; a name leaves when it is dropped or found missing.</summary>
    private readonly ConcurrentDictionary<string, byte> _knownTables = new(StringComparer.Ordinal);

    /// <summary>The last ETag and count seen per strict counter: a hit skips the read, a stale one costs a 412 and a read.</summary>
    private readonly ConcurrentDictionary<CounterId, StrictRow> _strict = new();

    /// <summary>Rows found by the last whole-partition read of a window of each period: the estimate that picks the read plan.</summary>
    private readonly ConcurrentDictionary<RateLimitPeriod, int> _partitionRows = new();

    public TableRateLimitStore(
        TableServiceClient service, TableNames names, TimeProvider timeProvider, ILogger<TableRateLimitStore> logger, GatewayMetrics? metrics = null)
    {
        _service = service;
        _names = names;
        _timeProvider = timeProvider;
        _logger = logger;
        _transactions = new TableTransactionCounter(metrics, TableTransactionCounter.RateLimitStore);
    }

    /// <summary>Tries (reads and conditional writes) of one strict increment before it gives up with <see cref="RateLimitContentionException"/>.</summary>
    public int MaxStrictAttempts { get; init; } = DefaultMaxStrictAttempts;

    public async Task<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>> SyncAsync(
        string instanceId,
        IReadOnlyCollection<KeyValuePair<CounterId, CounterValue>> counts,
        IReadOnlyCollection<CounterId> alsoRead,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(alsoRead);

        var windows = new Dictionary<(string Table, string Partition), Window>();
        Window WindowOf(CounterId id)
        {
            var table = RateLimitRows.TableName(_names, id);
            var partition = RateLimitRows.Partition(id);
            if (!windows.TryGetValue((table, partition), out var window))
            {
                window = new Window(table, partition, id.Period);
                windows.Add((table, partition), window);
            }

            return window;
        }

        foreach (var (id, value) in counts)
        {
            var window = WindowOf(id);
            var key = window.Add(id);
            // Keyed by row: an id given twice is written once (a transaction may not touch a row twice), the last value winning.
            window.Writes[key] = new TableEntity(window.Partition, RateLimitRows.ShardRow(key, instanceId))
            {
                [RateLimitRows.InstanceProperty] = instanceId,
                [RateLimitRows.AdmittedProperty] = value.Admitted,
                [RateLimitRows.OfferedProperty] = value.Offered,
                [RateLimitRows.ReservedProperty] = value.Reserved,
            };
        }

        foreach (var id in alsoRead)
        {
            WindowOf(id).Add(id);
        }

        await WriteAsync(windows.Values, cancellationToken);
        return await ReadAsync(windows.Values, cancellationToken);
    }

    public async Task<StrictIncrement> TryIncrementAsync(CounterId id, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id.Key);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var tableName = RateLimitRows.TableName(_names, id);
        var table = _service.GetTableClient(tableName);
        var partition = RateLimitRows.StrictPartition(id);
        for (var attempt = 1; ; attempt++)
        {
            if (!_strict.TryGetValue(id, out var current))
            {
                current = await ReadStrictAsync(table, partition, cancellationToken);
                Remember(id, current);
            }

            // Counts only grow within a window, so a remembered count at the limit is still at (or past) it.
            if (current.Count >= limit)
            {
                return new StrictIncrement(false, current.Count);
            }

            var next = new TableEntity(partition, RateLimitRows.StrictRow) { [RateLimitRows.CountProperty] = current.Count + 1 };
            try
            {
                Response written;
                if (current.ETag is { } etag)
                {
                    _transactions.Add(Update);
                    written = await table.UpdateEntityAsync(next, etag, TableUpdateMode.Replace, cancellationToken);
                }
                else
                {
                    await EnsureTableAsync(tableName, cancellationToken);
                    _transactions.Add(Insert);
                    written = await table.AddEntityAsync(next, cancellationToken);
                }

                Remember(id, new StrictRow(written.Headers.ETag, current.Count + 1));
                return new StrictIncrement(true, current.Count + 1);
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 409 or 404)
            {
                // 412: another writer moved the row; 409: another writer created it first; 404: the row or its table went
                // away (dropped, emulator restarted). Each time: read again. A lost answer to a write that landed reads as
                // a conflict too and is counted twice: the error is on the safe side (fewer admitted, never more).
                _strict.TryRemove(id, out _);
                if (StorageErrors.IsTableNotFound(ex))
                {
                    _knownTables.TryRemove(tableName, out _);
                }

                if (attempt >= MaxStrictAttempts)
                {
                    LogContention(_logger, id.Period, id.WindowStart, attempt);
                    throw new RateLimitContentionException(
                        $"The strict counter for the {id.Period} window at {id.WindowStart:O} met a conflicting write on each of {attempt} tries.");
                }

                // Jittered, growing backoff so that the writers that lost do not collide again at once.
                var delay = TimeSpan.FromMilliseconds(Random.Shared.Next(1, 1 + (4 << Math.Min(attempt, 4))));
                await Task.Delay(delay, _timeProvider, cancellationToken);
            }
        }
    }

    public async Task<int> HeartbeatAsync(string instanceId, TimeSpan liveness, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentOutOfRangeException.ThrowIfLessThan(liveness, TimeSpan.Zero);
        var now = _timeProvider.GetUtcNow();
        var tableName = RateLimitRows.InstancesTable(_names);
        var table = _service.GetTableClient(tableName);
        var row = new TableEntity(RateLimitRows.InstancesPartition, RateLimitRows.Encode(instanceId))
        {
            [RateLimitRows.InstanceProperty] = instanceId,
            [RateLimitRows.LastSeenProperty] = now,
        };
        await WithTableAsync(tableName, token =>
        {
            _transactions.Add(Heartbeat);
            return table.UpsertEntityAsync(row, TableUpdateMode.Replace, token);
        }, cancellationToken);

        // Counted here rather than by a filter on LastSeen: Azurite's datetime comparisons are unreliable, and the rows are few.
        var alive = 0;
        var stale = new List<TableEntity>();
        await _transactions.ForEachPageAsync(
            table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {RateLimitRows.InstancesPartition}"), RowsPerPage,
                ["RowKey", RateLimitRows.LastSeenProperty], cancellationToken),
            Query,
            page =>
            {
                foreach (var seen in page.Values)
                {
                    var lastSeen = seen.GetDateTimeOffset(RateLimitRows.LastSeenProperty) ?? DateTimeOffset.MinValue;
                    alive += lastSeen >= now - liveness ? 1 : 0;
                    if (lastSeen < now - RateLimitRows.ForgetInstanceAfter)
                    {
                        stale.Add(seen);
                    }
                }
            });

        // Instance ids come and go with scale-out: forget long-gone ones (If-Match: never one that came back meanwhile).
        foreach (var gone in stale)
        {
            try
            {
                _transactions.Add(Delete);
                await table.DeleteEntityAsync(RateLimitRows.InstancesPartition, gone.RowKey, gone.ETag, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                // Deleted by another instance already, or renewed since it was read: either way nothing to do.
            }
        }

        return Math.Max(1, alive);
    }

    public async Task DropExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (from, to) = RateLimitRows.TableRange(_names);
        var expired = new List<string>();
        await _transactions.ForEachPageAsync(_service.QueryAsync(TableClient.CreateQueryFilter($"TableName ge {from} and TableName lt {to}"), cancellationToken: cancellationToken),
            Query,
            page =>
            {
                foreach (var table in page.Values)
                {
                    // A bucket in progress, or one that ended less than the grace ago, stays; other tables are not ours to judge.
                    if (RateLimitRows.TryGetBucketEnd(_names, table.Name, out var end) && end + RateLimitRows.DropGrace <= now)
                    {
                        expired.Add(table.Name);
                    }
                }
            });

        foreach (var name in expired)
        {
            _knownTables.TryRemove(name, out _);
            _transactions.Add(DeleteTable);
            await _service.DeleteTableAsync(name, cancellationToken);
            LogTableDropped(_logger, name);
        }

        foreach (var id in _strict.Keys)
        {
            if (id.WindowEnd <= now)
            {
                _strict.TryRemove(id, out _);
            }
        }
    }

    /// <summary>Upserts every window's rows, at most 100 (one partition) a transaction, several transactions at once.</summary>
    private async Task WriteAsync(IEnumerable<Window> windows, CancellationToken cancellationToken)
    {
        var batches = new List<(string Table, TableEntity[] Rows)>();
        foreach (var window in windows)
        {
            foreach (var chunk in window.Writes.Values.Chunk(MaxBatchEntities))
            {
                batches.Add((window.Table, chunk));
            }
        }

        if (batches.Count == 0)
        {
            return;
        }

        // One creation per new table, before the batches race for it.
        foreach (var table in batches.Select(b => b.Table).Distinct(StringComparer.Ordinal))
        {
            await EnsureTableAsync(table, cancellationToken);
        }

        await Parallel.ForEachAsync(batches, Parallelism(cancellationToken), async (batch, token) =>
        {
            var table = _service.GetTableClient(batch.Table);
            var actions = batch.Rows.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)).ToList();
            await WithTableAsync(batch.Table, t =>
            {
                _transactions.Add(UpsertBatch);
                return table.SubmitTransactionAsync(actions, t);
            }, token);
        });
    }

    /// <summary>
    /// Reads every instance's rows of the requested keys. Per window, the plan with fewer requests: a range query per key,
    /// or the whole partition (one request per 1,000 rows, all keys of the window, not only these), estimated from the
    /// last whole-partition read of the same period.
    /// </summary>
    private async Task<IReadOnlyDictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>> ReadAsync(
        IEnumerable<Window> windows, CancellationToken cancellationToken)
    {
        var queries = new List<(Window Window, string? Key)>();
        foreach (var window in windows)
        {
            var pages = Math.Max(1, (_partitionRows.GetValueOrDefault(window.Period) + RowsPerPage - 1) / RowsPerPage);
            if (window.Keys.Count > pages)
            {
                queries.Add((window, null));
            }
            else
            {
                queries.AddRange(window.Keys.Keys.Select(k => (window, (string?)k)));
            }
        }

        var found = new ConcurrentBag<(CounterId Id, string Instance, CounterValue Value)>();
        await Parallel.ForEachAsync(queries, Parallelism(cancellationToken), async (query, token) =>
        {
            var (window, key) = query;
            string filter;
            if (key is null)
            {
                filter = TableClient.CreateQueryFilter($"PartitionKey eq {window.Partition}");
            }
            else
            {
                var (from, to) = RateLimitRows.KeyRange(key);
                filter = TableClient.CreateQueryFilter($"PartitionKey eq {window.Partition} and RowKey ge {from} and RowKey lt {to}");
            }

            var rows = 0;
            try
            {
                await _transactions.ForEachPageAsync(_service.GetTableClient(window.Table).QueryAsync<TableEntity>(filter, RowsPerPage, ShardColumns, token), Query, page =>
                {
                    rows += page.Values.Count;
                    foreach (var row in page.Values)
                    {
                        if (window.Keys.TryGetValue(RateLimitRows.KeyOf(row.RowKey), out var id))
                        {
                            found.Add((id, row.GetString(RateLimitRows.InstanceProperty) ?? row.RowKey, new CounterValue(
                                row.GetInt64(RateLimitRows.AdmittedProperty) ?? 0,
                                row.GetInt64(RateLimitRows.OfferedProperty) ?? 0,
                                row.GetInt64(RateLimitRows.ReservedProperty) ?? 0)));
                        }
                    }
                });
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // No table: nobody wrote into this bucket yet (or it was dropped). Not created by a read.
                _knownTables.TryRemove(window.Table, out _);
            }

            if (key is null)
            {
                _partitionRows[window.Period] = rows;
            }
        });

        var result = new Dictionary<CounterId, IReadOnlyDictionary<string, CounterValue>>();
        foreach (var (id, instance, value) in found)
        {
            if (!result.TryGetValue(id, out var instances))
            {
                result[id] = instances = new Dictionary<string, CounterValue>(StringComparer.Ordinal);
            }

            ((Dictionary<string, CounterValue>)instances)[instance] = value;
        }

        return result;
    }

    private async Task<StrictRow> ReadStrictAsync(TableClient table, string partition, CancellationToken cancellationToken)
    {
        try
        {
            _transactions.Add(Get);
            var row = await table.GetEntityIfExistsAsync<TableEntity>(partition, RateLimitRows.StrictRow, [RateLimitRows.CountProperty], cancellationToken);
            return row.HasValue ? new StrictRow(row.Value!.ETag, row.Value.GetInt64(RateLimitRows.CountProperty) ?? 0) : new StrictRow(null, 0);
        }
        catch (RequestFailedException ex) when (StorageErrors.IsTableNotFound(ex))
        {
            _knownTables.TryRemove(table.Name, out _);
            return new StrictRow(null, 0);
        }
    }

    private void Remember(CounterId id, StrictRow row)
    {
        if (_strict.Count >= MaxCachedStrictCounters)
        {
            _strict.Clear();
        }

        _strict[id] = row;
    }

    /// <summary>Runs a write; when its table is gone (dropped under a late writer, an emulator restarted) creates it and writes again, once.</summary>
    private async Task WithTableAsync<T>(string tableName, Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(tableName, cancellationToken);
        try
        {
            await write(cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // An upsert answers 404 only for a missing table (in a transaction the error code names the failed entity, not the table).
            _knownTables.TryRemove(tableName, out _);
            LogTableRecreated(_logger, tableName);
            await EnsureTableAsync(tableName, cancellationToken);
            await write(cancellationToken);
        }
    }

    /// <summary>
    /// Creates a table unless this process knows it exists. Not shared between callers (no task outlives its caller); two
    /// callers racing on a new bucket both ask, which is harmless and happens once a bucket.
    /// </summary>
    private async Task EnsureTableAsync(string tableName, CancellationToken cancellationToken)
    {
        if (_knownTables.ContainsKey(tableName))
        {
            return;
        }

        _transactions.Add(CreateTable);
        await _service.GetTableClient(tableName).CreateIfNotExistsAsync(cancellationToken);
        if (_knownTables.TryAdd(tableName, 0))
        {
            LogTableCreated(_logger, tableName);
        }
    }

    private static ParallelOptions Parallelism(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = MaxConcurrentRequests, CancellationToken = cancellationToken };

    [LoggerMessage(EventId = LogEvents.RateLimitTableCreated, Level = LogLevel.Information, Message = "Rate-limit table {Table} ready")]
    private static partial void LogTableCreated(ILogger logger, string table);

    [LoggerMessage(EventId = LogEvents.RateLimitTableDropped, Level = LogLevel.Information, Message = "Dropped expired rate-limit table {Table}")]
    private static partial void LogTableDropped(ILogger logger, string table);

    [LoggerMessage(EventId = LogEvents.RateLimitTableRecreated, Level = LogLevel.Warning,
        Message = "Rate-limit table {Table} was gone when written to (dropped early, or storage lost it); created it again")]
    private static partial void LogTableRecreated(ILogger logger, string table);

    [LoggerMessage(EventId = LogEvents.RateLimitContention, Level = LogLevel.Warning,
        Message = "A strict counter of the {Period} window at {WindowStart} lost {Attempts} tries to concurrent writers")]
    private static partial void LogContention(ILogger logger, RateLimitPeriod period, DateTimeOffset windowStart, int attempts);

    private readonly record struct StrictRow(ETag? ETag, long Count);

    /// <summary>The keys of one window (one table partition) a sync touches: their rows to write and the ids to read.</summary>
    private sealed class Window(string table, string partition, RateLimitPeriod period)
    {
        public string Table { get; } = table;

        public string Partition { get; } = partition;

        public RateLimitPeriod Period { get; } = period;

        /// <summary>Encoded key to the id it was asked for.</summary>
        public Dictionary<string, CounterId> Keys { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, TableEntity> Writes { get; } = new(StringComparer.Ordinal);

        public string Add(CounterId id)
        {
            var key = RateLimitRows.Encode(id.Key);
            Keys.TryAdd(key, id);
            return key;
        }
    }
}
