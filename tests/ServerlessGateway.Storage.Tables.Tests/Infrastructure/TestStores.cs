using System.Text;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ServerlessGateway.Observability;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Storage.Tables.Tests.Infrastructure;

internal static class TestStores
{
    public static readonly DateTimeOffset Epoch = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);

    /// <summary>A random prefix: every test gets tables of its own on the shared Azurite.</summary>
    public static TableNames NewNames() => new("T" + Guid.NewGuid().ToString("N")[..20]);

    /// <summary>A store with a client of its own, as a separate gateway instance would have.</summary>
    public static TableConfigStore Create(string connectionString, TableNames names, ILogger<TableConfigStore>? logger = null, GatewayMetrics? metrics = null) =>
        new(new TableServiceClient(connectionString, TableServiceClientFactory.CreateOptions()), names, TimeProvider.System,
            logger ?? NullLogger<TableConfigStore>.Instance, metrics);

    /// <summary>A rate-limit store with a client of its own, as a separate gateway instance would have.</summary>
    public static TableRateLimitStore CreateRateLimit(
        string connectionString, TableNames names, TimeProvider? timeProvider = null, GatewayMetrics? metrics = null, int maxStrictAttempts = TableRateLimitStore.DefaultMaxStrictAttempts) =>
        new(new TableServiceClient(connectionString, TableServiceClientFactory.CreateOptions()), names, timeProvider ?? TimeProvider.System,
            NullLogger<TableRateLimitStore>.Instance, metrics)
        {
            MaxStrictAttempts = maxStrictAttempts,
        };

    /// <summary>The names of this prefix's tables, sorted.</summary>
    public static async Task<List<string>> TableNamesAsync(string connectionString, TableNames names)
    {
        var tables = new List<string>();
        await foreach (var table in new TableServiceClient(connectionString).QueryAsync())
        {
            if (table.Name.StartsWith(names.Prefix, StringComparison.Ordinal))
            {
                tables.Add(table.Name);
            }
        }

        tables.Sort(StringComparer.Ordinal);
        return tables;
    }

    public static TableClient RawTable(string connectionString, TableNames names) =>
        new TableServiceClient(connectionString).GetTableClient(names.Config);

    public static ConfigChange Change(string actor = "key:ci", string action = "import", int minute = 0) =>
        new(actor, action, Epoch.AddMinutes(minute));

    /// <summary>Text that gzip can barely shrink (random tokens, multi-byte UTF-8 included), so the stored size stays large.</summary>
    public static string IncompressibleText(int utf8Bytes, int seed)
    {
        string[] tokens = [.. "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".Select(c => c.ToString()), "é", "€", "😀", "\"", "\\", "\n"];
        var random = new Random(seed);
        var text = new StringBuilder(utf8Bytes);
        var bytes = 0;
        while (bytes < utf8Bytes)
        {
            var token = tokens[random.Next(tokens.Length)];
            text.Append(token);
            bytes += Encoding.UTF8.GetByteCount(token);
        }

        return text.ToString();
    }

    /// <summary>The chunk rows of the committed version <paramref name="version"/>, in row key order.</summary>
    public static async Task<List<TableEntity>> ChunkRowsAsync(TableClient table, long version)
    {
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {ConfigRows.VersionPartition(version)}")))
        {
            if (!row.RowKey.EndsWith(".meta", StringComparison.Ordinal))
            {
                rows.Add(row);
            }
        }

        return rows;
    }
}
