using System.Globalization;
using Azure.Data.Tables;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Row layout of the <c>{prefix}Config</c> table (DESIGN.md §4):
/// <list type="bullet">
/// <item><c>pointer</c>/<c>current</c>: the version served and its metadata; switched with If-Match, the commit point.</item>
/// <item><c>history</c>/<c>{long.MaxValue - version:D19}</c>: metadata of every committed version, newest first.</item>
/// <item><c>v{version:D19}</c>/<c>{attempt}.meta</c> and <c>{attempt}.d{index:D5}</c>: one write attempt of a version,
/// the gzip of the document in binary properties <c>D00</c>..<c>D10</c>. Several writers racing for the same version
/// each write their own attempt; the pointer (then the history row) names the one that won.</item>
/// </list>
/// </summary>
internal static class ConfigRows
{
    public const string PointerPartition = "pointer";
    public const string PointerRow = "current";
    public const string HistoryPartition = "history";

    /// <summary>Largest binary property the service accepts (64 KiB).</summary>
    public const int MaxPropertyBytes = 64 * 1024;

    /// <summary>
    /// Binary properties per chunk entity. The service counts an entity's binary values as raw bytes against its
    /// 1 MiB limit (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#property-types);
    /// Azurite counts the request's JSON, where they travel as base64. 11 x 64 KiB = 704 KiB raw is 938 667 characters of
    /// base64, under 1 MiB by either count with room for keys and property names.
    /// </summary>
    public const int PropertiesPerEntity = 11;

    public const string PartsProperty = "Parts";

    private static readonly string[] PartNames = [.. Enumerable.Range(0, PropertiesPerEntity).Select(i => "D" + i.ToString("D2", CultureInfo.InvariantCulture))];

    public static string VersionPartition(long version) => "v" + version.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Row keys sort ascending, so the inverted version lists the history newest first.</summary>
    public static string HistoryRow(long version) => (long.MaxValue - version).ToString("D19", CultureInfo.InvariantCulture);

    public static string MetaRow(string attempt) => attempt + ".meta";

    public static string ChunkRow(string attempt, int index) => attempt + ".d" + index.ToString("D5", CultureInfo.InvariantCulture);

    /// <summary>Row key range [from, to) holding exactly the chunk rows of <paramref name="attempt"/>.</summary>
    public static (string From, string To) ChunkRange(string attempt) => (attempt + ".d", attempt + ".e");

    public static int EntityCount(long storedBytes) =>
        (int)((storedBytes + ((long)MaxPropertyBytes * PropertiesPerEntity) - 1) / ((long)MaxPropertyBytes * PropertiesPerEntity));

    public static List<TableEntity> ChunkEntities(long version, string attempt, byte[] compressed)
    {
        var partition = VersionPartition(version);
        var entities = new List<TableEntity>(EntityCount(compressed.Length));
        var offset = 0;
        for (var index = 0; offset < compressed.Length; index++)
        {
            var entity = new TableEntity(partition, ChunkRow(attempt, index));
            var parts = 0;
            while (parts < PropertiesPerEntity && offset < compressed.Length)
            {
                var length = Math.Min(MaxPropertyBytes, compressed.Length - offset);
                entity[PartNames[parts]] = compressed.AsSpan(offset, length).ToArray();
                offset += length;
                parts++;
            }

            entity[PartsProperty] = parts;
            entities.Add(entity);
        }

        return entities;
    }

    /// <summary>Concatenates the parts of chunk rows read in row key order.</summary>
    /// <exception cref="InvalidDataException">Rows or parts are missing, or the total is not <paramref name="storedBytes"/>.</exception>
    public static byte[] Reassemble(IReadOnlyList<TableEntity> chunks, string attempt, long storedBytes)
    {
        if (storedBytes < 0 || storedBytes > Array.MaxLength)
        {
            throw new InvalidDataException($"recorded stored size {storedBytes} is out of range");
        }

        var buffer = new byte[storedBytes];
        var offset = 0;
        for (var index = 0; index < chunks.Count; index++)
        {
            var chunk = chunks[index];
            if (!string.Equals(chunk.RowKey, ChunkRow(attempt, index), StringComparison.Ordinal))
            {
                throw new InvalidDataException($"chunk row {ChunkRow(attempt, index)} is missing");
            }

            var parts = chunk.GetInt32(PartsProperty) ?? throw new InvalidDataException($"chunk row {chunk.RowKey} has no {PartsProperty}");
            if (parts is < 1 or > PropertiesPerEntity)
            {
                throw new InvalidDataException($"chunk row {chunk.RowKey} has {parts} parts");
            }

            for (var part = 0; part < parts; part++)
            {
                var bytes = chunk.GetBinary(PartNames[part]) ?? throw new InvalidDataException($"chunk row {chunk.RowKey} lacks {PartNames[part]}");
                if (bytes.Length > buffer.Length - offset)
                {
                    throw new InvalidDataException($"chunks hold more than the recorded {storedBytes} bytes");
                }

                bytes.CopyTo(buffer, offset);
                offset += bytes.Length;
            }
        }

        if (offset != buffer.Length)
        {
            throw new InvalidDataException($"chunks hold {offset} of the recorded {storedBytes} bytes");
        }

        return buffer;
    }
}
