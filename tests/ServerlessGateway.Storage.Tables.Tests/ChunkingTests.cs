using Azure.Data.Tables;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class ChunkingTests(AzuriteServer azurite)
{
    private const int KiB = 1024;
    private const int MiB = 1024 * 1024;

    private readonly TableNames _names = TestStores.NewNames();

    [Fact(Timeout = 60_000)]
    public async Task A_document_beyond_64KiB_is_split_across_binary_properties_and_read_back_byte_exact()
    {
        var store = TestStores.Create(azurite.ConnectionString, _names);
        var document = TestStores.IncompressibleText(200 * KiB, seed: 1);

        var head = await store.PublishAsync(null, document, TestStores.Change(), CancellationToken.None);

        Assert.Equal(document, await store.ReadAsync(head.Version, CancellationToken.None));
        var chunks = await TestStores.ChunkRowsAsync(TestStores.RawTable(azurite.ConnectionString, _names), head.Version);
        var chunk = Assert.Single(chunks);
        Assert.True(chunk.GetInt32(ConfigRows.PartsProperty) >= 2, "a 200 KiB incompressible document needs several 64 KiB properties");
        AssertWithinServiceLimits(chunks);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_document_beyond_1MiB_spans_several_entities_and_transactions_and_is_read_back_byte_exact()
    {
        var logger = new RecordingLogger<TableConfigStore>();
        var store = TestStores.Create(azurite.ConnectionString, _names, logger);
        var reader = TestStores.Create(azurite.ConnectionString, _names);
        var small = await store.PublishAsync(null, "{}", TestStores.Change(), CancellationToken.None);
        var document = TestStores.IncompressibleText(3 * MiB, seed: 2);

        var head = await store.PublishAsync(small, document, TestStores.Change(), CancellationToken.None);

        Assert.Equal(document, await reader.ReadAsync(head.Version, CancellationToken.None));
        var chunks = await TestStores.ChunkRowsAsync(TestStores.RawTable(azurite.ConnectionString, _names), head.Version);
        // Over 2 MiB stored: at least 3 entities under 1 MiB each, and more than one 4 MiB transaction (base64 on the wire).
        Assert.True(chunks.Count >= 3, $"expected at least 3 chunk entities, found {chunks.Count}");
        AssertWithinServiceLimits(chunks);
        var published = logger.Events.Single(e => e.EventId.Id == LogEvents.ConfigPublished && (long)e.Values["Version"]! == head.Version);
        Assert.True((int)published.Values["Batches"]! >= 2, published.Message);
        var info = (await reader.ListVersionsAsync(CancellationToken.None))[0];
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(document), info.Size);
        Assert.Equal("{}", await reader.ReadAsync(small.Version, CancellationToken.None));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_large_compressible_document_is_stored_compressed()
    {
        var store = TestStores.Create(azurite.ConnectionString, _names);
        var document = "{\"services\":[" + string.Join(",", Enumerable.Range(0, 20_000).Select(i => $"{{\"name\":\"service-{i}\",\"url\":\"http://backend-{i % 7}:8080/api\"}}")) + "]}";

        var head = await store.PublishAsync(null, document, TestStores.Change(), CancellationToken.None);

        Assert.Equal(document, await store.ReadAsync(head.Version, CancellationToken.None));
        var stored = (await TestStores.ChunkRowsAsync(TestStores.RawTable(azurite.ConnectionString, _names), head.Version))
            .Sum(c => Enumerable.Range(0, c.GetInt32(ConfigRows.PartsProperty)!.Value).Sum(p => c.GetBinary($"D{p:D2}")!.Length));
        Assert.True(stored < document.Length / 4, $"stored {stored} bytes for a {document.Length} byte document");
    }

    /// <summary>Azurite does not enforce every limit of the real service, so check them on what was written.</summary>
    private static void AssertWithinServiceLimits(List<TableEntity> chunks)
    {
        foreach (var chunk in chunks)
        {
            var parts = chunk.GetInt32(ConfigRows.PartsProperty)!.Value;
            var total = 0;
            for (var p = 0; p < parts; p++)
            {
                var length = chunk.GetBinary($"D{p:D2}")!.Length;
                Assert.InRange(length, 1, 64 * KiB);
                total += length;
            }

            // Under 1 MiB even as base64 on the wire (how Azurite counts; the service counts raw bytes).
            Assert.True((total + 2) / 3 * 4 + 4 * KiB < MiB, $"entity {chunk.RowKey} holds {total} bytes");
        }
    }
}
