namespace ServerlessGateway.Registry;

/// <summary>
/// The registry's storage port (DESIGN.md §4): a sequence of immutable, versioned config documents
/// and one pointer naming the current version, switched with optimistic concurrency. Adapters:
/// <c>ServerlessGateway.Storage.Tables</c> (Azure Table Storage / Azurite) and
/// <see cref="InMemoryConfigStore"/> (DB-less mode: changes live until restart, as in Kong).
/// </summary>
public interface IConfigStore
{
    /// <summary>The pointer, or null when nothing was ever published.</summary>
    Task<ConfigHead?> GetHeadAsync(CancellationToken cancellationToken);

    /// <summary>The document of a version, or null when that version does not exist.</summary>
    Task<string?> ReadAsync(long version, CancellationToken cancellationToken);

    /// <summary>
    /// Writes <paramref name="document"/> as version <c>(expected?.Version ?? 0) + 1</c> (immutable, written
    /// completely before anything points at it), then switches the pointer to it, conditional on the
    /// pointer still being <paramref name="expected"/> (absent when null).
    /// </summary>
    /// <exception cref="ConfigConflictException">The pointer moved since <paramref name="expected"/> was read.</exception>
    Task<ConfigHead> PublishAsync(ConfigHead? expected, string document, ConfigChange change, CancellationToken cancellationToken);

    /// <summary>Every version's metadata, newest first.</summary>
    Task<IReadOnlyList<ConfigVersionInfo>> ListVersionsAsync(CancellationToken cancellationToken);

    /// <summary>A cheap round trip to the store; throws when it cannot be reached.</summary>
    Task PingAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The pointer row: the version served (always the newest: a rollback publishes the old document
/// again as a new version, so history stays linear) and its concurrency token.
/// </summary>
public sealed record ConfigHead(long Version, string ETag);

/// <summary>Who changed the config and how (never a secret: an admin key id or a token subject).</summary>
public sealed record ConfigChange(string Actor, string Action, DateTimeOffset At);

public sealed record ConfigVersionInfo(long Version, DateTimeOffset CreatedAt, string Actor, string Action, string Sha256, long Size);

/// <summary>Another writer switched the pointer first; re-read and retry.</summary>
public sealed class ConfigConflictException(string message) : Exception(message);
