using Microsoft.Extensions.Logging;

namespace ServerlessGateway.Registry;

/// <summary>
/// Where the secrets key comes from: <c>Gateway:Secrets:Key</c> (base64, 256-bit), else on the
/// Standalone host a development key generated once and kept in the user's profile (logged loudly),
/// else none (the Functions host then refuses to store HMAC secrets).
/// </summary>
internal static partial class SecretsKeyLoader
{
    public static byte[]? Load(string? configured, bool allowDevelopmentKey, ILogger logger)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            byte[] key;
            try
            {
                key = Convert.FromBase64String(configured.Trim());
            }
            catch (FormatException)
            {
                throw new InvalidOperationException("Gateway:Secrets:Key must be the base64 of a 256-bit (32-byte) key");
            }

            return key.Length == 32 ? key : throw new InvalidOperationException("Gateway:Secrets:Key must be the base64 of a 256-bit (32-byte) key");
        }

        if (!allowDevelopmentKey)
        {
            return null;
        }

        var folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".serverless-gateway");
        var file = Path.Combine(folder, "development-secrets.key");
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(file, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        LogDevelopmentKey(logger, file);
        return Convert.FromBase64String(File.ReadAllText(file).Trim());
    }

    /// <summary>The keys being rotated out (<c>Gateway:Secrets:PreviousKeys:N</c>), each base64 of 256 bits.</summary>
    public static byte[][] LoadPrevious(IReadOnlyList<string> configured)
    {
        var keys = new byte[configured.Count][];
        for (var i = 0; i < configured.Count; i++)
        {
            try
            {
                keys[i] = Convert.FromBase64String(configured[i].Trim());
            }
            catch (FormatException)
            {
                keys[i] = [];
            }

            if (keys[i].Length != 32)
            {
                throw new InvalidOperationException($"Gateway:Secrets:PreviousKeys:{i} must be the base64 of a 256-bit (32-byte) key");
            }
        }

        return keys;
    }

    [LoggerMessage(EventId = LogEvents.DevelopmentSecretsKey, Level = LogLevel.Warning,
        Message = "Gateway:Secrets:Key is not set: HMAC secrets are encrypted with a development key kept in {File}. Set Gateway:Secrets:Key for anything but local runs.")]
    private static partial void LogDevelopmentKey(ILogger logger, string file);
}
