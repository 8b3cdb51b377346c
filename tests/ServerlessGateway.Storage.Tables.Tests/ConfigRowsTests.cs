namespace ServerlessGateway.Storage.Tables.Tests;

public sealed class ConfigRowsTests
{
    private const int Part = ConfigRows.MaxPropertyBytes;
    private const int Entity = ConfigRows.MaxPropertyBytes * ConfigRows.PropertiesPerEntity;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Part - 1)]
    [InlineData(Part)]
    [InlineData(Part + 1)]
    [InlineData(Entity - 1)]
    [InlineData(Entity)]
    [InlineData(Entity + 1)]
    [InlineData((3 * Entity) + Part)]
    public void ChunkEntities_AtAndAroundTheLimits_ReassembleExactlyWithinThem(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);

        var entities = ConfigRows.ChunkEntities(7, "attempt", bytes);

        Assert.Equal(ConfigRows.EntityCount(length), entities.Count);
        Assert.All(entities, e => Assert.Equal(ConfigRows.VersionPartition(7), e.PartitionKey));
        Assert.All(entities, e => Assert.InRange(e.GetInt32(ConfigRows.PartsProperty)!.Value, 1, ConfigRows.PropertiesPerEntity));
        Assert.All(entities, e => Assert.All(e.Where(p => p.Value is byte[]), p => Assert.InRange(((byte[])p.Value).Length, 1, Part)));
        Assert.Equal(bytes, ConfigRows.Reassemble(entities, "attempt", length));
    }

    [Fact]
    public void Reassemble_MissingMiddleRow_Throws()
    {
        var bytes = new byte[(2 * Entity) + 10];
        var entities = ConfigRows.ChunkEntities(1, "a", bytes);
        entities.RemoveAt(1);

        Assert.Throws<InvalidDataException>(() => ConfigRows.Reassemble(entities, "a", bytes.Length));
    }

    [Fact]
    public void Reassemble_RowsOfAnotherSize_Throws()
    {
        var entities = ConfigRows.ChunkEntities(1, "a", new byte[100]);

        Assert.Throws<InvalidDataException>(() => ConfigRows.Reassemble(entities, "a", 101));
        Assert.Throws<InvalidDataException>(() => ConfigRows.Reassemble(entities, "a", 99));
    }

    [Fact]
    public void HistoryRowKeys_SortNewestFirst_AndVersionPartitionsSortOldestFirst()
    {
        long[] versions = [1, 2, 9, 10, 11, 100, 1_000_000];

        Assert.Equal(versions.Reverse(), versions.OrderBy(ConfigRows.HistoryRow, StringComparer.Ordinal));
        Assert.Equal(versions, versions.OrderBy(ConfigRows.VersionPartition, StringComparer.Ordinal));
    }

    [Fact]
    public void EncodedDocument_Decode_RejectsAHashMismatch()
    {
        var encoded = EncodedDocument.Encode("{\"a\":1}");

        Assert.Equal("{\"a\":1}", EncodedDocument.Decode(encoded.Compressed, encoded.Size, encoded.Sha256));
        Assert.Throws<InvalidDataException>(() => EncodedDocument.Decode(encoded.Compressed, encoded.Size, new string('0', 64)));
        Assert.Throws<InvalidDataException>(() => EncodedDocument.Decode(encoded.Compressed, encoded.Size - 1, encoded.Sha256));
        Assert.Throws<InvalidDataException>(() => EncodedDocument.Decode(encoded.Compressed, encoded.Size + 1, encoded.Sha256));
    }
}
