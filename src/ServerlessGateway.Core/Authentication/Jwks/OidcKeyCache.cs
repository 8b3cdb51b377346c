using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.Authentication.Jwks;

/// <summary>Timings and bounds of the <see cref="OidcKeyCache"/>.</summary>
internal sealed record OidcKeyCacheOptions
{
    /// <summary>Background refresh of a key set in use (issuers announce new keys well ahead of rotation).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>After a failed refresh, the background retries this much sooner than a full interval.</summary>
    public TimeSpan RetryAfterFailure { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Bounds one fetch (connect, headers and body); Kong Enterprise's <c>timeout</c> default.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A discovery document or JWK set larger than this is refused (Entra ID's is ~10 KiB).</summary>
    public int MaxDocumentBytes { get; init; } = 512 * 1024;

    /// <summary>A key set nobody asked for in this long stops being refreshed and is forgotten.</summary>
    public TimeSpan EvictAfterIdle { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>A fetched key set: the keys and, through discovery, the issuer identifier the IdP states for itself.</summary>
internal sealed record OidcKeySet(string? Issuer, JwksDocument Keys, DateTimeOffset FetchedAt);

internal enum KeyLookupStatus { Found, UnknownKey, Unavailable }

/// <summary>The outcome of a key lookup: candidate keys for the token, or why there are none.</summary>
internal readonly record struct KeyLookup(KeyLookupStatus Status, OidcKeySet? Set, SigningKey[] Candidates);

/// <summary>
/// Signing keys of OIDC issuers, shared by every plugin instance and the management API and kept
/// across config snapshots. Each source (discovery document or JWKS URL) is fetched through the
/// SSRF-guarded outbound client with a bounded time and size, refreshed in the background, and
/// refreshed on demand when a token names a key the set lacks. On-demand refreshes are single-flight
/// (concurrent requests share one fetch) and throttled per source (at most one per minimum interval,
/// Kong Enterprise's <c>rediscovery_lifetime</c>), so a flood of made-up <c>kid</c>s costs the IdP
/// at most one request per interval. A failed fetch never replaces the last good key set: an IdP
/// outage does not block tokens whose keys are cached.
/// </summary>
internal sealed partial class OidcKeyCache : IDisposable
{
    /// <summary>Kong Enterprise's <c>rediscovery_lifetime</c> default: the least time between two on-demand refreshes.</summary>
    public static readonly TimeSpan DefaultMinRefreshInterval = TimeSpan.FromSeconds(30);

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly HttpMessageInvoker _outbound;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OidcKeyCacheOptions _options;
    private int _disposed;

    public OidcKeyCache(HttpMessageInvoker outbound, TimeProvider time, ILogger<OidcKeyCache> logger, OidcKeyCacheOptions? options = null)
    {
        _outbound = outbound;
        _time = time;
        _logger = logger;
        _options = options ?? new OidcKeyCacheOptions();
    }

    /// <summary>The key set currently held for <paramref name="source"/>, if any (no fetch).</summary>
    public OidcKeySet? Current(OidcKeySource source) => _entries.TryGetValue(source.CacheKey, out var entry) ? entry.Current : null;

    /// <summary>Starts loading a source nobody fetched yet, so the first request does not wait for it.</summary>
    public void Warm(OidcKeySource source)
    {
        var entry = GetEntry(source);
        if (entry.Current is null)
        {
            _ = entry.RefreshAsync(DefaultMinRefreshInterval);
        }
    }

    /// <summary>
    /// The keys of <paramref name="source"/> that may verify a token with this <paramref name="kid"/>
    /// (any key of the set when the token names none) and <paramref name="alg"/>. When there is none,
    /// one throttled refresh is made (or joined) before answering.
    /// </summary>
    public async ValueTask<KeyLookup> FindAsync(OidcKeySource source, string? kid, string alg, TimeSpan minRefreshInterval, CancellationToken cancellationToken)
    {
        var entry = GetEntry(source);
        entry.Touch();
        if (entry.Current is { } set && Select(set, kid, alg) is { Length: > 0 } candidates)
        {
            return new KeyLookup(KeyLookupStatus.Found, set, candidates);
        }

        await entry.RefreshAsync(minRefreshInterval).WaitAsync(cancellationToken);
        set = entry.Current;
        if (set is null)
        {
            return new KeyLookup(KeyLookupStatus.Unavailable, null, []);
        }

        candidates = Select(set, kid, alg);
        return new KeyLookup(candidates.Length > 0 ? KeyLookupStatus.Found : KeyLookupStatus.UnknownKey, set, candidates);
    }

    /// <summary>Completes when no fetch of <paramref name="source"/> is running (tests and shutdown).</summary>
    internal Task WhenIdleAsync(OidcKeySource source) =>
        _entries.TryGetValue(source.CacheKey, out var entry) ? entry.Running : Task.CompletedTask;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var entry in _entries.Values)
            {
                entry.Dispose();
            }

            _entries.Clear();
        }
    }

    private Entry GetEntry(OidcKeySource source)
    {
        if (_entries.TryGetValue(source.CacheKey, out var existing))
        {
            return existing;
        }

        var created = new Entry(this, source);
        var entry = _entries.GetOrAdd(source.CacheKey, created);
        if (entry != created)
        {
            created.Dispose();
        }
        else
        {
            entry.StartTimer();
        }

        return entry;
    }

    private static SigningKey[] Select(OidcKeySet set, string? kid, string alg)
    {
        var keys = kid is null ? set.Keys.Keys : set.Keys.WithKid(kid);
        var count = 0;
        foreach (var key in keys)
        {
            if (key.Supports(alg))
            {
                count++;
            }
        }

        if (count == 0)
        {
            return [];
        }

        var result = new SigningKey[count];
        var i = 0;
        foreach (var key in keys)
        {
            if (key.Supports(alg))
            {
                result[i++] = key;
            }
        }

        return result;
    }

    /// <summary>One fetch of a source: discovery (when it is one), then the JWK set. Never throws.</summary>
    private async Task<OidcKeySet?> FetchAsync(OidcKeySource source)
    {
        using var timeout = new CancellationTokenSource(_options.FetchTimeout, _time);
        try
        {
            string? issuer = null;
            var jwksUri = source.Url;
            if (source.IsDiscovery)
            {
                var discovery = await GetAsync(source.Url, timeout.Token);
                if (discovery is null)
                {
                    return null;
                }

                (issuer, jwksUri) = ParseDiscovery(source, discovery) is { } found ? found : (null, null!);
                if (jwksUri is null)
                {
                    return null;
                }
            }

            var body = await GetAsync(jwksUri, timeout.Token);
            if (body is null)
            {
                return null;
            }

            var keys = JwksDocument.Parse(body, out var error);
            if (keys is null)
            {
                LogFetchFailed(_logger, source.Url.AbsoluteUri, jwksUri.AbsoluteUri, error);
                return null;
            }

            LogFetched(_logger, source.Url.AbsoluteUri, keys.Keys.Count, keys.Skipped);
            return new OidcKeySet(issuer, keys, _time.GetUtcNow());
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            LogFetchFailed(_logger, source.Url.AbsoluteUri, source.Url.AbsoluteUri, $"no answer within {_options.FetchTimeout.TotalSeconds} s");
            return null;
        }
        catch (Exception ex)
        {
            // A fetch fails as a whole and is logged; the SSRF guard's refusal arrives here too
            // (an HttpRequestException around UpstreamAddressDeniedException).
            LogFetchFailed(_logger, source.Url.AbsoluteUri, source.Url.AbsoluteUri, Describe(ex));
            return null;
        }

        async Task<byte[]?> GetAsync(Uri url, CancellationToken cancellationToken)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = HttpVersion.Version11 };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("ServerlessGateway", null));
            using var response = await _outbound.SendAsync(request, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                LogFetchFailed(_logger, source.Url.AbsoluteUri, url.AbsoluteUri, $"HTTP {(int)response.StatusCode}");
                return null;
            }

            var max = _options.MaxDocumentBytes;
            if (response.Content.Headers.ContentLength > max)
            {
                LogFetchFailed(_logger, source.Url.AbsoluteUri, url.AbsoluteUri, $"larger than {max} bytes");
                return null;
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[Math.Min(max + 1, 64 * 1024)];
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > max)
                    {
                        LogFetchFailed(_logger, source.Url.AbsoluteUri, url.AbsoluteUri, $"larger than {max} bytes");
                        return null;
                    }

                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, max + 1));
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return buffer[..length];
                }

                length += read;
            }
        }
    }

    /// <summary>OpenID Connect Discovery 1.0 §3: <c>issuer</c> and <c>jwks_uri</c>; the latter obeys the same URL rule as configured URLs.</summary>
    private (string Issuer, Uri JwksUri)? ParseDiscovery(OidcKeySource source, byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body, JsonOptions);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("issuer", out var issuer) || issuer.ValueKind != JsonValueKind.String || issuer.GetString() is not { Length: > 0 } issuerText
                || !root.TryGetProperty("jwks_uri", out var jwks) || jwks.ValueKind != JsonValueKind.String)
            {
                LogFetchFailed(_logger, source.Url.AbsoluteUri, source.Url.AbsoluteUri, "the discovery document lacks 'issuer' or 'jwks_uri'");
                return null;
            }

            if (OidcKeySource.TryParseUrl(jwks.GetString()!, out var error) is not { } jwksUri)
            {
                LogFetchFailed(_logger, source.Url.AbsoluteUri, source.Url.AbsoluteUri, "jwks_uri " + error);
                return null;
            }

            return (issuerText, jwksUri);
        }
        catch (JsonException)
        {
            LogFetchFailed(_logger, source.Url.AbsoluteUri, source.Url.AbsoluteUri, "the discovery document is not valid JSON");
            return null;
        }
    }

    private static string Describe(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is Forwarding.UpstreamAddressDeniedException denied)
            {
                return denied.Message;
            }
        }

        return ex.Message;
    }

    /// <summary>One source: its current key set, the running fetch (single flight), the throttle and the refresh timer.</summary>
    private sealed class Entry(OidcKeyCache owner, OidcKeySource source) : IDisposable
    {
        private readonly Lock _gate = new();
        private volatile OidcKeySet? _current;
        private Task? _running;
        private DateTimeOffset _lastAttempt = DateTimeOffset.MinValue;
        private long _lastUsedTicks = owner._time.GetUtcNow().UtcTicks;
        private ITimer? _timer;

        public OidcKeySet? Current => _current;

        public Task Running
        {
            get
            {
                lock (_gate)
                {
                    return _running ?? Task.CompletedTask;
                }
            }
        }

        public void Touch() => Volatile.Write(ref _lastUsedTicks, owner._time.GetUtcNow().UtcTicks);

        public void StartTimer()
        {
            var interval = owner._options.RefreshInterval;
            _timer = owner._time.CreateTimer(static state => ((Entry)state!).OnTimer(), this, interval, interval);
        }

        /// <summary>
        /// Starts a fetch unless one is running (then that one is returned: single flight) or, when
        /// <paramref name="minInterval"/> is given, the last attempt is more recent than it (throttle).
        /// </summary>
        public Task RefreshAsync(TimeSpan? minInterval)
        {
            TaskCompletionSource done;
            lock (_gate)
            {
                if (_running is { } running)
                {
                    return running;
                }

                var now = owner._time.GetUtcNow();
                if (minInterval is { } min && now - _lastAttempt < min)
                {
                    return Task.CompletedTask;
                }

                _lastAttempt = now;
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _running = done.Task;
            }

            _ = RunAsync(done);
            return done.Task;
        }

        private async Task RunAsync(TaskCompletionSource done)
        {
            try
            {
                var set = await owner.FetchAsync(source);
                if (set is not null)
                {
                    _current = set;
                }

                // The next background refresh counts from this attempt; a failure is retried sooner.
                var next = set is not null ? owner._options.RefreshInterval : owner._options.RetryAfterFailure;
                _timer?.Change(next, owner._options.RefreshInterval);
            }
            catch (ObjectDisposedException)
            {
                // The cache was disposed while fetching (host shutdown).
            }
            finally
            {
                lock (_gate)
                {
                    _running = null;
                }

                done.SetResult();
            }
        }

        private void OnTimer()
        {
            var idle = owner._time.GetUtcNow() - new DateTimeOffset(Volatile.Read(ref _lastUsedTicks), TimeSpan.Zero);
            if (idle >= owner._options.EvictAfterIdle)
            {
                // No plugin or admin request asked for these keys in a long time: stop refreshing them.
                if (owner._entries.TryRemove(new KeyValuePair<string, Entry>(source.CacheKey, this)))
                {
                    Dispose();
                }

                return;
            }

            _ = RefreshAsync(minInterval: null);
        }

        public void Dispose() => _timer?.Dispose();
    }

    [LoggerMessage(EventId = LogEvents.OidcKeysFetched, Level = LogLevel.Information,
        Message = "Loaded {Count} signing keys for {Source} ({Skipped} entries skipped)")]
    private static partial void LogFetched(ILogger logger, string source, int count, int skipped);

    [LoggerMessage(EventId = LogEvents.OidcKeysFetchFailed, Level = LogLevel.Warning,
        Message = "Fetching signing keys for {Source} failed at {Url}: {Reason}; the last good key set (if any) stays in use")]
    private static partial void LogFetchFailed(ILogger logger, string source, string url, string reason);
}
