using Microsoft.Extensions.Logging;
using ServerlessGateway.Configuration;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Registry;

public enum ConfigSource { None, File, Store }

public enum StorageHealth { NotConfigured, Ok, Unreachable }

/// <summary>The config an instance serves, where it came from, and the store version it is.</summary>
public sealed record ConfigState(GatewayConfig Config, long? Version, ConfigSource Source);

/// <summary>
/// The table-backed registry as one instance sees it (DESIGN.md §4): loads the pointed-to version,
/// compiles and swaps it in atomically, keeps the last good snapshot when storage fails, falls back
/// to <c>Gateway:ConfigFile</c> on a cold start without storage, and publishes changes with
/// optimistic concurrency (read, change, write conditional on the pointer; retry on conflict).
/// </summary>
public sealed partial class ConfigRegistry
{
    private static readonly TimeSpan StorageCheckInterval = TimeSpan.FromSeconds(10);
    private const int MaxPublishAttempts = 8;
    private readonly IConfigStore _store;
    private readonly GatewaySnapshotProvider _snapshots;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigRegistry> _logger;
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private volatile ConfigState? _state;
    private volatile StorageStatus _storage;
    private Task<StorageStatus>? _storageCheck;

    private readonly Plugins.PluginRuntime _pluginRuntime;

    internal ConfigRegistry(IConfigStore store, GatewaySnapshotProvider snapshots, CredentialProtector protector, Plugins.PluginRuntime pluginRuntime, TimeProvider time, ILogger<ConfigRegistry> logger)
    {
        _pluginRuntime = pluginRuntime;
        _store = store;
        _snapshots = snapshots;
        Protector = protector;
        _time = time;
        _logger = logger;
        IsDurable = store is not InMemoryConfigStore;
        _storage = new StorageStatus(IsDurable ? StorageHealth.Ok : StorageHealth.NotConfigured, DateTimeOffset.MinValue);
    }

    public CredentialProtector Protector { get; }

    /// <summary>False in DB-less mode: changes then live in memory until the process ends.</summary>
    public bool IsDurable { get; }

    public ConfigState? State => _state;

    public IConfigStore Store => _store;

    public StorageStatus Storage => _storage;

    public sealed record StorageStatus(StorageHealth Health, DateTimeOffset CheckedAt);

    /// <summary>
    /// Cold start: the store's current version, else (store empty or unreachable) the config file.
    /// In DB-less mode the file becomes version 1 of the in-memory store.
    /// </summary>
    public async Task InitializeAsync(GatewayConfig? fileConfig, TimeSpan budget, CancellationToken stopping)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        bounded.CancelAfter(budget);
        try
        {
            if (await RefreshAsync(bounded.Token))
            {
                return;
            }

            if (fileConfig is not null && !IsDurable)
            {
                var protectedFile = Protect(fileConfig);
                await UpdateAsync(_ => (protectedFile, true), new ConfigChange("config-file", "load Gateway:ConfigFile", _time.GetUtcNow()), bounded.Token);
                return;
            }
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            MarkStorage(StorageHealth.Unreachable);
            LogUnavailable(_logger, ex.Message, ex);
        }

        if (fileConfig is not null && _state is null)
        {
            Apply(new ConfigState(Protect(fileConfig), null, ConfigSource.File));
        }
    }

    /// <summary>Serves the store's current version if it differs from ours. Throws when the store fails.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        var head = await _store.GetHeadAsync(cancellationToken);
        MarkStorage(IsDurable ? StorageHealth.Ok : StorageHealth.NotConfigured);
        if (head is null || head.Version == _state?.Version)
        {
            return false;
        }

        await _loadGate.WaitAsync(cancellationToken);
        try
        {
            if (head.Version == _state?.Version)
            {
                return false;
            }

            var config = await LoadVersionAsync(head.Version, cancellationToken);
            if (config is null)
            {
                return false;
            }

            Apply(new ConfigState(config, head.Version, ConfigSource.Store));
            return true;
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>A stored version parsed back into a config, or null (logged) when it does not parse.</summary>
    public async Task<GatewayConfig?> LoadVersionAsync(long version, CancellationToken cancellationToken)
    {
        var document = await _store.ReadAsync(version, cancellationToken);
        if (document is null)
        {
            return null;
        }

        var result = KongDeclarativeParser.Parse(document);
        if (!result.IsValid)
        {
            LogInvalidVersion(_logger, version, string.Join("; ", result.Errors.Take(5)));
            return null;
        }

        return result.Config;
    }

    /// <summary>
    /// Read-change-write against the store. <paramref name="change"/> receives the current config and
    /// returns the next one (null: nothing to publish) with a result for the caller.
    /// </summary>
    /// <exception cref="ConfigConflictException">Other writers kept winning.</exception>
    public async Task<(T Result, long? Version)> UpdateAsync<T>(Func<GatewayConfig, (GatewayConfig? Next, T Result)> change, ConfigChange who, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var head = await _store.GetHeadAsync(cancellationToken);
            var current = head is null
                ? _state?.Config ?? GatewayConfig.Empty
                : head.Version == _state?.Version ? _state.Config : await LoadVersionAsync(head.Version, cancellationToken) ?? throw new InvalidOperationException($"stored config version {head.Version} does not parse");

            var (next, result) = change(current);
            if (next is null)
            {
                return (result, head?.Version);
            }

            try
            {
                var published = await _store.PublishAsync(head, KongDeclarativeExporter.ToJson(next), who, cancellationToken);
                LogPublished(_logger, published.Version, who.Actor, who.Action);
                Apply(new ConfigState(next, published.Version, ConfigSource.Store));
                return (result, published.Version);
            }
            catch (ConfigConflictException) when (attempt < MaxPublishAttempts)
            {
                // Another writer switched the pointer first: re-read and re-apply the change.
            }
        }
    }

    /// <summary>The storage state for health, checked at most every 10 s however often it is asked.</summary>
    public Task<StorageStatus> CheckStorageAsync()
    {
        var status = _storage;
        if (!IsDurable || _time.GetUtcNow() - status.CheckedAt < StorageCheckInterval)
        {
            return Task.FromResult(status);
        }

        var running = _storageCheck;
        if (running is { IsCompleted: false })
        {
            return running;
        }

        return _storageCheck = PingAsync();
    }

    private async Task<StorageStatus> PingAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _store.PingAsync(timeout.Token);
            MarkStorage(StorageHealth.Ok);
        }
        catch (Exception ex)
        {
            MarkStorage(StorageHealth.Unreachable);
            LogUnavailable(_logger, ex.Message, ex);
        }

        return _storage;
    }

    public void MarkStorage(StorageHealth health) => _storage = new StorageStatus(health, _time.GetUtcNow());

    /// <summary>Credentials in at-rest form; a config that cannot be protected keeps its form (the file is trusted input).</summary>
    private GatewayConfig Protect(GatewayConfig config)
    {
        var errors = new List<ConfigIssue>();
        var protectedConfig = Protector.Protect(config, errors);
        return errors.Count == 0 ? protectedConfig : config;
    }

    private void Apply(ConfigState state)
    {
        _snapshots.Swap(GatewaySnapshot.Compile(state.Config, state.Version is { } v ? $"v{v}" : "file", _pluginRuntime));
        _state = state;
        LogLoaded(_logger, state.Version, state.Source);
    }

    [LoggerMessage(EventId = LogEvents.RegistryLoaded, Level = LogLevel.Information, Message = "Serving config version {Version} from {Source}")]
    private static partial void LogLoaded(ILogger logger, long? version, ConfigSource source);

    [LoggerMessage(EventId = LogEvents.RegistryUnavailable, Level = LogLevel.Warning, Message = "Config store unavailable: {Reason}; serving the last good config")]
    private static partial void LogUnavailable(ILogger logger, string reason, Exception exception);

    [LoggerMessage(EventId = LogEvents.RegistryInvalidVersion, Level = LogLevel.Error, Message = "Stored config version {Version} does not parse and is not served: {Errors}")]
    private static partial void LogInvalidVersion(ILogger logger, long version, string errors);

    [LoggerMessage(EventId = LogEvents.RegistryPublished, Level = LogLevel.Information, Message = "Published config version {Version} by {Actor}: {Action}")]
    private static partial void LogPublished(ILogger logger, long version, string actor, string action);
}
