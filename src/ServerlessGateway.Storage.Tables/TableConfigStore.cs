using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Observability;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// The registry on Azure Table Storage (DESIGN.md §4), laid out as <see cref="ConfigRows"/> describes.
/// A publish writes the document completely (its own attempt rows, in transactions of one partition)
/// before it switches the pointer with If-Match; the pointer is the only commit point, so a reader
/// never sees a half-written version, and a writer that crashed half way leaves only rows that
/// nothing points at. Before the pointer moves past a version, that version's history row exists,
/// which is how older versions stay readable.
/// </summary>
internal sealed partial class TableConfigStore : IConfigStore
{
    /// <summary>A transaction carries at most 100 entities.</summary>
    private const int MaxBatchEntities = 100;

    /// <summary>
    /// A transaction's payload is at most 4 MiB on the wire, where binary properties travel as base64
    /// (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions).
    /// </summary>
    private const long MaxBatchWireBytes = 3L * 1024 * 1024;

    /// <summary>Headers, keys and property names of one entity in a transaction, rounded up.</summary>
    private const long EntityWireOverhead = 2048;

    private const string SupersededETag = "W/\"superseded\"";

    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(3);

    private readonly TableClient _table;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TableConfigStore> _logger;
    private readonly TableTransactionCounter _transactions;
    private Task? _tableReady;

    public TableConfigStore(
        TableServiceClient service, TableNames names, TimeProvider timeProvider, ILogger<TableConfigStore> logger, GatewayMetrics? metrics = null)
    {
        _table = service.GetTableClient(names.Config);
        _timeProvider = timeProvider;
        _logger = logger;
        _transactions = new TableTransactionCounter(metrics, TableTransactionCounter.ConfigStore);
    }

    public string TableName => _table.Name;

    public async Task<ConfigHead?> GetHeadAsync(CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken);
        var pointer = await ReadPointerAsync(cancellationToken);
        return pointer is null ? null : new ConfigHead(pointer.Value.Record.Version, pointer.Value.ETag.ToString());
    }

    public async Task<string?> ReadAsync(long version, CancellationToken cancellationToken)
    {
        if (version <= 0)
        {
            return null;
        }

        await EnsureTableAsync(cancellationToken);
        var record = await FindCommittedAsync(version, cancellationToken);
        if (record is null)
        {
            return null;
        }

        var (from, to) = ConfigRows.ChunkRange(record.Attempt);
        var partition = ConfigRows.VersionPartition(version);
        var chunks = new List<TableEntity>(record.Entities);
        await _transactions.ForEachPageAsync(
            _table.QueryAsync<TableEntity>(
                TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {from} and RowKey lt {to}"),
                cancellationToken: cancellationToken),
            "query",
            page => chunks.AddRange(page.Values));

        try
        {
            if (chunks.Count != record.Entities)
            {
                throw new InvalidDataException($"found {chunks.Count} of {record.Entities} chunk rows");
            }

            var compressed = ConfigRows.Reassemble(chunks, record.Attempt, record.StoredSize);
            return EncodedDocument.Decode(compressed, record.Size, record.Sha256);
        }
        catch (InvalidDataException ex)
        {
            LogIntegrityFailed(_logger, version, ex.Message);
            throw new InvalidDataException($"config version {version} in table {_table.Name} is damaged: {ex.Message}", ex);
        }
    }

    public async Task<ConfigHead> PublishAsync(ConfigHead? expected, string document, ConfigChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(change);
        await EnsureTableAsync(cancellationToken);
        try
        {
            return await PublishCoreAsync(expected, document, change, cancellationToken);
        }
        catch (RequestFailedException ex) when (StorageErrors.IsTableNotFound(ex))
        {
            // The table went away under a running process (deleted, or an emulator restarted): make it again, once.
            Volatile.Write(ref _tableReady, null);
            await EnsureTableAsync(cancellationToken);
            return await PublishCoreAsync(expected, document, change, cancellationToken);
        }
    }

    public async Task<IReadOnlyList<ConfigVersionInfo>> ListVersionsAsync(CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken);
        // The pointer first: every version up to it has a history row or is the pointer itself.
        var pointer = await ReadPointerAsync(cancellationToken);
        if (pointer is null)
        {
            return [];
        }

        var versions = new Dictionary<long, ConfigVersionInfo>();
        await _transactions.ForEachPageAsync(
            _table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ConfigRows.HistoryPartition}"), cancellationToken: cancellationToken),
            "query",
            page =>
            {
                foreach (var row in page.Values)
                {
                    var info = VersionRecord.FromEntity(row).Info;
                    versions[info.Version] = info;
                }
            });

        versions.TryAdd(pointer.Value.Record.Version, pointer.Value.Record.Info);
        return [.. versions.Values.OrderByDescending(v => v.Version)];
    }

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(PingTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            _transactions.Add("get");
            await _table.GetEntityIfExistsAsync<TableEntity>(ConfigRows.PointerPartition, ConfigRows.PointerRow,
                [nameof(VersionRecord.Version)], linked.Token);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // The service answered: reachable, the table just is not there (yet).
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Table Storage did not answer within {PingTimeout.TotalSeconds} s ({_table.Uri.Host}).");
        }
    }

    private async Task<ConfigHead> PublishCoreAsync(ConfigHead? expected, string document, ConfigChange change, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        var pointer = await ReadPointerAsync(cancellationToken);
        if (!Matches(expected, pointer))
        {
            LogConflict(_logger, (expected?.Version ?? 0) + 1);
            throw new ConfigConflictException("the config pointer moved since it was read");
        }

        if (pointer is { } current)
        {
            // The invariant readers rely on: a version has its history row before the pointer moves past it.
            // Idempotent: every writer that saw this pointer writes the same row.
            _transactions.Add("upsert");
            await _table.UpsertEntityAsync(current.Record.ToEntity(ConfigRows.HistoryPartition, ConfigRows.HistoryRow(current.Record.Version)),
                TableUpdateMode.Replace, cancellationToken);
        }

        var encoded = EncodedDocument.Encode(document);
        var record = new VersionRecord(
            (expected?.Version ?? 0) + 1,
            Guid.NewGuid().ToString("N"),
            change.At,
            change.Actor,
            change.Action,
            encoded.Sha256,
            encoded.Size,
            encoded.Compressed.LongLength,
            ConfigRows.EntityCount(encoded.Compressed.LongLength));
        var rows = new List<TableEntity>(record.Entities + 1)
        {
            record.ToEntity(ConfigRows.VersionPartition(record.Version), ConfigRows.MetaRow(record.Attempt)),
        };
        rows.AddRange(ConfigRows.ChunkEntities(record.Version, record.Attempt, encoded.Compressed));
        var batches = await WriteRowsAsync(rows, cancellationToken);

        var etag = await SwitchPointerAsync(expected, record, rows, cancellationToken);
        try
        {
            _transactions.Add("upsert");
            await _table.UpsertEntityAsync(record.ToEntity(ConfigRows.HistoryPartition, ConfigRows.HistoryRow(record.Version)),
                TableUpdateMode.Replace, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Committed already, so this must not fail the publish (a caller would retry a change that landed):
            // the next publish writes this row before it moves the pointer on.
            LogHistoryWriteFailed(_logger, record.Version, ex);
        }

        LogPublished(_logger, record.Version, record.Actor, record.Action, record.Size, record.StoredSize, record.Entities, batches,
            (long)_timeProvider.GetElapsedTime(started).TotalMilliseconds);
        return new ConfigHead(record.Version, etag.ToString());
    }

    private async Task<ETag> SwitchPointerAsync(ConfigHead? expected, VersionRecord record, List<TableEntity> rows, CancellationToken cancellationToken)
    {
        var pointer = record.ToEntity(ConfigRows.PointerPartition, ConfigRows.PointerRow);
        try
        {
            _transactions.Add(expected is null ? "insert" : "update");
            var response = expected is null
                ? await _table.AddEntityAsync(pointer, cancellationToken)
                : await _table.UpdateEntityAsync(pointer, new ETag(expected.ETag), TableUpdateMode.Replace, cancellationToken);
            return response.Headers.ETag ?? throw new InvalidOperationException("Table Storage answered a pointer write without an ETag.");
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412 or 404)
        {
            // A lost race, unless this is the SDK's retry of a write whose first try landed (its answer lost):
            // then the version is committed with this attempt.
            var committed = await FindCommittedAsync(record.Version, cancellationToken);
            if (committed is not null && string.Equals(committed.Attempt, record.Attempt, StringComparison.Ordinal))
            {
                LogLandedOnRetry(_logger, record.Version, ex.Status);
                var now = await ReadPointerAsync(cancellationToken);
                if (now is { } head && head.Record.Version == record.Version)
                {
                    return head.ETag;
                }

                // Published, and another writer has already built on it: the ETag this version had is gone, and any
                // token other than the pointer's current one makes the caller's next publish a conflict, as it must.
                return new ETag(SupersededETag);
            }

            LogConflict(_logger, record.Version);
            await DeleteRowsAsync(record.Version, rows, cancellationToken);
            throw new ConfigConflictException("the config pointer moved since it was read");
        }
    }

    /// <summary>Upserts (idempotent under the SDK's retries) in transactions within the limits of the service.</summary>
    private async Task<int> WriteRowsAsync(List<TableEntity> rows, CancellationToken cancellationToken)
    {
        var batches = 0;
        var batch = new List<TableTransactionAction>();
        long wireBytes = 0;
        foreach (var row in rows)
        {
            var rowBytes = WireSize(row);
            if (batch.Count > 0 && (batch.Count == MaxBatchEntities || wireBytes + rowBytes > MaxBatchWireBytes))
            {
                _transactions.Add("upsert_batch");
                await _table.SubmitTransactionAsync(batch, cancellationToken);
                batches++;
                batch = [];
                wireBytes = 0;
            }

            batch.Add(new TableTransactionAction(TableTransactionActionType.UpsertReplace, row));
            wireBytes += rowBytes;
        }

        if (batch.Count > 0)
        {
            _transactions.Add("upsert_batch");
            await _table.SubmitTransactionAsync(batch, cancellationToken);
            batches++;
        }

        return batches;
    }

    /// <summary>Removes the rows of an attempt that lost its race; nothing points at them, so a failure only leaves garbage.</summary>
    private async Task DeleteRowsAsync(long version, List<TableEntity> rows, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var chunk in rows.Chunk(MaxBatchEntities))
            {
                _transactions.Add("delete_batch");
                await _table.SubmitTransactionAsync(
                    chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(r.PartitionKey, r.RowKey), ETag.All)),
                    cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Must not hide the conflict the caller is about to get.
            LogCleanupFailed(_logger, version, ex);
        }
    }

    /// <summary>The metadata of a committed version: the pointer's, or the history row once the pointer is past it.</summary>
    private async Task<VersionRecord?> FindCommittedAsync(long version, CancellationToken cancellationToken)
    {
        var pointer = await ReadPointerAsync(cancellationToken);
        if (pointer is not { } head || head.Record.Version < version)
        {
            return null;
        }

        if (head.Record.Version == version)
        {
            return head.Record;
        }

        _transactions.Add("get");
        var history = await _table.GetEntityIfExistsAsync<TableEntity>(ConfigRows.HistoryPartition, ConfigRows.HistoryRow(version),
            cancellationToken: cancellationToken);
        return history.HasValue
            ? VersionRecord.FromEntity(history.Value!)
            : throw new InvalidDataException($"config version {version} is older than the pointer but has no history row in table {_table.Name}");
    }

    private async Task<(VersionRecord Record, ETag ETag)?> ReadPointerAsync(CancellationToken cancellationToken)
    {
        try
        {
            _transactions.Add("get");
            var row = await _table.GetEntityIfExistsAsync<TableEntity>(ConfigRows.PointerPartition, ConfigRows.PointerRow,
                cancellationToken: cancellationToken);
            return row.HasValue ? (VersionRecord.FromEntity(row.Value!), row.Value!.ETag) : null;
        }
        catch (RequestFailedException ex) when (StorageErrors.IsTableNotFound(ex))
        {
            Volatile.Write(ref _tableReady, null);
            return null;
        }
    }

    private static bool Matches(ConfigHead? expected, (VersionRecord Record, ETag ETag)? pointer) =>
        (expected, pointer) switch
        {
            (null, null) => true,
            ({ } e, { } p) => e.Version == p.Record.Version && string.Equals(e.ETag, p.ETag.ToString(), StringComparison.Ordinal),
            _ => false,
        };

    private static long WireSize(TableEntity row)
    {
        long size = EntityWireOverhead;
        foreach (var (_, value) in row)
        {
            size += value switch
            {
                byte[] bytes => (bytes.LongLength + 2) / 3 * 4,
                string text => text.Length * 3L,
                _ => 32,
            };
        }

        return size;
    }

    /// <summary>Creates the table once per process (lazily; concurrent creators are fine). A failed try is retried on the next call.</summary>
    private Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        var ready = Volatile.Read(ref _tableReady);
        if (ready is null || ready.IsFaulted || ready.IsCanceled)
        {
            var created = CreateTableAsync();
            ready = Interlocked.CompareExchange(ref _tableReady, created, ready) == ready ? created : Volatile.Read(ref _tableReady)!;
        }

        return ready.WaitAsync(cancellationToken);
    }

    private async Task CreateTableAsync()
    {
        try
        {
            // Not the caller's token: the task is shared; the client options bound it.
            _transactions.Add("create_table");
            await _table.CreateIfNotExistsAsync(CancellationToken.None);
            LogTableReady(_logger, _table.Name, _table.Uri.GetLeftPart(UriPartial.Authority));
        }
        catch (RequestFailedException ex) when (ex.Status == 403)
        {
            // A managed identity with data access but no right to create tables: infra/ creates it.
            LogTableCreateDenied(_logger, _table.Name, ex.Status, ex.ErrorCode);
        }
    }

    [LoggerMessage(EventId = LogEvents.TableReady, Level = LogLevel.Information, Message = "Config table {Table} ready on {Endpoint}")]
    private static partial void LogTableReady(ILogger logger, string table, string endpoint);

    [LoggerMessage(EventId = LogEvents.TableCreateDenied, Level = LogLevel.Warning,
        Message = "Not allowed to create table {Table} ({Status} {ErrorCode}); using it as provisioned")]
    private static partial void LogTableCreateDenied(ILogger logger, string table, int status, string? errorCode);

    [LoggerMessage(EventId = LogEvents.ConfigPublished, Level = LogLevel.Information,
        Message = "Published config version {Version} by {Actor} ({ConfigAction}): {Size} bytes, {StoredSize} stored in {Entities} entities, {Batches} transactions, {ElapsedMs} ms")]
    private static partial void LogPublished(ILogger logger, long version, string actor, string configAction, long size, long storedSize, int entities, int batches, long elapsedMs);

    [LoggerMessage(EventId = LogEvents.ConfigPublishConflict, Level = LogLevel.Information,
        Message = "Config version {Version} not published: another writer moved the pointer first")]
    private static partial void LogConflict(ILogger logger, long version);

    [LoggerMessage(EventId = LogEvents.ConfigPublishLandedOnRetry, Level = LogLevel.Information,
        Message = "Config version {Version}: the pointer write was retried and answered {Status}, but its first try had landed")]
    private static partial void LogLandedOnRetry(ILogger logger, long version, int status);

    [LoggerMessage(EventId = LogEvents.AttemptCleanupFailed, Level = LogLevel.Warning,
        Message = "Could not delete the rows of a losing write of config version {Version}; nothing points at them")]
    private static partial void LogCleanupFailed(ILogger logger, long version, Exception exception);

    [LoggerMessage(EventId = LogEvents.HistoryWriteFailed, Level = LogLevel.Warning,
        Message = "Config version {Version} is published but its history row was not written; the next publish writes it")]
    private static partial void LogHistoryWriteFailed(ILogger logger, long version, Exception exception);

    [LoggerMessage(EventId = LogEvents.ConfigIntegrityFailed, Level = LogLevel.Error,
        Message = "Config version {Version} failed its integrity check: {Reason}")]
    private static partial void LogIntegrityFailed(ILogger logger, long version, string reason);
}
