using Azure.Data.Tables;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Metadata of one written version, stored alike on the attempt's meta row, the pointer row and the
/// history row, so whichever of them a reader finds describes the version completely.
/// </summary>
internal sealed record VersionRecord(
    long Version,
    string Attempt,
    DateTimeOffset CreatedAt,
    string Actor,
    string Action,
    string Sha256,
    long Size,
    long StoredSize,
    int Entities)
{
    public const string Encoding = "gzip";

    public ConfigVersionInfo Info => new(Version, CreatedAt, Actor, Action, Sha256, Size);

    public TableEntity ToEntity(string partitionKey, string rowKey) => new(partitionKey, rowKey)
    {
        [nameof(Version)] = Version,
        [nameof(Attempt)] = Attempt,
        [nameof(CreatedAt)] = CreatedAt,
        [nameof(Actor)] = Actor,
        [nameof(Action)] = Action,
        [nameof(Sha256)] = Sha256,
        [nameof(Size)] = Size,
        [nameof(StoredSize)] = StoredSize,
        [nameof(Entities)] = Entities,
        [nameof(Encoding)] = Encoding,
    };

    /// <exception cref="InvalidDataException">A property is missing or the encoding is unknown.</exception>
    public static VersionRecord FromEntity(TableEntity entity)
    {
        var encoding = entity.GetString(nameof(Encoding));
        if (!string.Equals(encoding, Encoding, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"row {entity.PartitionKey}/{entity.RowKey} has encoding '{encoding}', expected '{Encoding}'");
        }

        return new(
            entity.GetInt64(nameof(Version)) ?? throw Missing(entity, nameof(Version)),
            entity.GetString(nameof(Attempt)) ?? throw Missing(entity, nameof(Attempt)),
            entity.GetDateTimeOffset(nameof(CreatedAt)) ?? throw Missing(entity, nameof(CreatedAt)),
            entity.GetString(nameof(Actor)) ?? "",
            entity.GetString(nameof(Action)) ?? "",
            entity.GetString(nameof(Sha256)) ?? throw Missing(entity, nameof(Sha256)),
            entity.GetInt64(nameof(Size)) ?? throw Missing(entity, nameof(Size)),
            entity.GetInt64(nameof(StoredSize)) ?? throw Missing(entity, nameof(StoredSize)),
            entity.GetInt32(nameof(Entities)) ?? throw Missing(entity, nameof(Entities)));
    }

    private static InvalidDataException Missing(TableEntity entity, string property) =>
        new($"row {entity.PartitionKey}/{entity.RowKey} has no {property}");
}
