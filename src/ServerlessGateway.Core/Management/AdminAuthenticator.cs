using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ServerlessGateway.Management;

public enum AdminAuthOutcome { Authenticated, Missing, Invalid, Locked, Forbidden, Unavailable }

/// <summary>The outcome of authenticating one management request; <c>Description</c> says why a bearer token failed.</summary>
internal readonly record struct AdminAuthResult(AdminAuthOutcome Outcome, string Actor, TimeSpan RetryAfter, bool Bearer = false, string Description = "");

/// <summary>
/// Admin credentials (DESIGN.md §5): <c>X-Gateway-Admin-Key</c> checked against
/// <c>Gateway:Admin:Keys:*</c> (plain or <c>sha256:&lt;hex&gt;</c>) by comparing SHA-256 digests in
/// constant time against every key. Failed attempts are limited per client address: after
/// <see cref="MaxFailures"/> within <see cref="FailureWindow"/> the address is refused until the
/// window ends. The actor recorded for changes is the key id (<c>admin-key:N</c>), never the key.
/// Without an admin key, an <c>Authorization: Bearer</c> token is checked by
/// <see cref="AdminTokenAuthenticator"/> when <c>Gateway:Admin:Issuer</c> is set; invalid tokens count
/// toward the same lockout.
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
    private readonly AdminTokenAuthenticator? _tokens;

    public AdminAuthenticator(IOptions<GatewayOptions> options, TimeProvider time, ILogger<AdminAuthenticator> logger)
        : this(options, time, logger, null)
    {
    }

    internal AdminAuthenticator(IOptions<GatewayOptions> options, TimeProvider time, ILogger<AdminAuthenticator> logger, AdminTokenAuthenticator? tokens)
    {
        _tokens = tokens is { Enabled: true } ? tokens : null;
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

    /// <summary>True when bearer tokens are accepted (<c>Gateway:Admin:Issuer</c>, <c>Audience</c> and <c>Role</c> set).</summary>
    public bool TokensEnabled => _tokens is not null;

    internal async ValueTask<AdminAuthResult> AuthenticateAsync(HttpContext context, IPAddress? client)
    {
        var now = _time.GetUtcNow();
        var address = client ?? IPAddress.None;
        if (_failures.TryGetValue(address, out var state) && state.IsLocked(now, out var retryAfter))
        {
            return new AdminAuthResult(AdminAuthOutcome.Locked, "", retryAfter);
        }

        var presented = context.Request.Headers[HeaderName].ToString();
        if (presented.Length == 0)
        {
            return _tokens is not null && BearerToken(context.Request) is { } token
                ? await AuthenticateTokenAsync(token, address, now, context.RequestAborted)
                : new AdminAuthResult(AdminAuthOutcome.Missing, "", TimeSpan.Zero);
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
            return new AdminAuthResult(AdminAuthOutcome.Authenticated, match, TimeSpan.Zero);
        }

        RecordFailure(address, now);
        LogFailed(_logger, address.ToString());
        return new AdminAuthResult(AdminAuthOutcome.Invalid, "", TimeSpan.Zero);
    }

    private async ValueTask<AdminAuthResult> AuthenticateTokenAsync(string token, IPAddress address, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = await _tokens!.AuthenticateAsync(token, cancellationToken);
        if (result.Outcome == AdminAuthOutcome.Invalid)
        {
            RecordFailure(address, now);
            LogFailed(_logger, address.ToString());
        }

        return new AdminAuthResult(result.Outcome, result.Actor, TimeSpan.Zero, Bearer: true, result.Description);
    }

    /// <summary>The token of <c>Authorization: Bearer &lt;token&gt;</c> (RFC 6750 §2.1), or null.</summary>
    private static string? BearerToken(HttpRequest request)
    {
        var authorization = request.Headers.Authorization;
        if (authorization.Count != 1 || authorization[0] is not { } value
            || !value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = value.AsSpan(7).Trim(' ');
        return token.IsEmpty ? null : token.ToString();
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
