using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServerlessGateway.Management;

public enum AdminAuthOutcome { Authenticated, Missing, Invalid, Locked }

/// <summary>
/// Admin credentials (DESIGN.md §5): <c>X-Gateway-Admin-Key</c> checked against
/// <c>Gateway:Admin:Keys:*</c> (plain or <c>sha256:&lt;hex&gt;</c>) by comparing SHA-256 digests in
/// constant time against every key. Failed attempts are limited per client address: after
/// <see cref="MaxFailures"/> within <see cref="FailureWindow"/> the address is refused until the
/// window ends. The actor recorded for changes is the key id (<c>admin-key:N</c>), never the key.
/// </summary>
public sealed partial class AdminAuthenticator
{
    public const string HeaderName = "X-Gateway-Admin-Key";
    public const int MaxFailures = 10;
    public static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(5);
    private const int MinimumKeyLength = 16;
    private readonly (byte[] Digest, string Id)[] _keys;
    private readonly ConcurrentDictionary<IPAddress, FailureWindowState> _failures = new();
    private readonly TimeProvider _time;
    private readonly ILogger<AdminAuthenticator> _logger;

    public AdminAuthenticator(IOptions<GatewayOptions> options, TimeProvider time, ILogger<AdminAuthenticator> logger)
    {
        _time = time;
        _logger = logger;
        var keys = new List<(byte[], string)>();
        var configured = options.Value.Admin.Keys;
        for (var i = 0; i < configured.Count; i++)
        {
            if (TryDigest(configured[i], out var digest, out var reason))
            {
                keys.Add((digest, $"admin-key:{i}"));
            }
            else
            {
                LogKeyRejected(logger, i, reason);
            }
        }

        _keys = [.. keys];
    }

    public int KeyCount => _keys.Length;

    private static bool TryDigest(string? key, out byte[] digest, out string reason)
    {
        digest = [];
        reason = "";
        if (string.IsNullOrWhiteSpace(key))
        {
            reason = "empty";
            return false;
        }

        // An unresolved Key Vault reference leaves its literal text as the value: never a valid key.
        if (key.StartsWith("@Microsoft.KeyVault(", StringComparison.OrdinalIgnoreCase))
        {
            reason = "an unresolved Key Vault reference";
            return false;
        }

        if (key.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                digest = Convert.FromHexString(key.AsSpan(7));
            }
            catch (FormatException)
            {
                digest = [];
            }

            reason = "'sha256:' must be followed by 64 hex digits";
            return digest.Length == 32;
        }

        if (key.Length < MinimumKeyLength)
        {
            reason = $"shorter than {MinimumKeyLength} characters";
            return false;
        }

        digest = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        return true;
    }

    public AdminAuthOutcome Authenticate(HttpContext context, IPAddress? client, out string actor, out TimeSpan retryAfter)
    {
        actor = "";
        retryAfter = TimeSpan.Zero;
        var now = _time.GetUtcNow();
        var address = client ?? IPAddress.None;
        if (_failures.TryGetValue(address, out var state) && state.IsLocked(now, out retryAfter))
        {
            return AdminAuthOutcome.Locked;
        }

        var presented = context.Request.Headers[HeaderName].ToString();
        if (presented.Length == 0)
        {
            return AdminAuthOutcome.Missing;
        }

        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? match = null;
        foreach (var (key, id) in _keys)
        {
            // Compare against every key: the time taken does not depend on which one matched.
            if (CryptographicOperations.FixedTimeEquals(digest, key) && match is null)
            {
                match = id;
            }
        }

        if (match is not null)
        {
            actor = match;
            return AdminAuthOutcome.Authenticated;
        }

        RecordFailure(address, now);
        LogFailed(_logger, address.ToString());
        return AdminAuthOutcome.Invalid;
    }

    private void RecordFailure(IPAddress address, DateTimeOffset now)
    {
        if (_failures.Count > 10_000)
        {
            // Bounded memory: forget windows that have ended.
            foreach (var (key, value) in _failures)
            {
                if (value.Ended(now))
                {
                    _failures.TryRemove(key, out _);
                }
            }
        }

        _failures.AddOrUpdate(address, _ => new FailureWindowState(now, 1), (_, s) => s.Ended(now) ? new FailureWindowState(now, 1) : s with { Count = s.Count + 1 });
    }

    private sealed record FailureWindowState(DateTimeOffset Start, int Count)
    {
        public bool Ended(DateTimeOffset now) => now - Start >= FailureWindow;

        public bool IsLocked(DateTimeOffset now, out TimeSpan retryAfter)
        {
            retryAfter = Start + FailureWindow - now;
            return Count >= MaxFailures && !Ended(now);
        }
    }

    [LoggerMessage(EventId = LogEvents.AdminKeyRejected, Level = LogLevel.Error, Message = "Admin key Gateway:Admin:Keys:{Index} is not usable: {Reason}")]
    private static partial void LogKeyRejected(ILogger logger, int index, string reason);

    [LoggerMessage(EventId = LogEvents.AdminAuthFailed, Level = LogLevel.Warning, Message = "Failed admin authentication from {Client}")]
    private static partial void LogFailed(ILogger logger, string client);
}
