using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Runtime;

/// <summary>
/// Reads <c>Gateway:ConfigFile</c> once (Kong's DB-less mode; the cold-start fallback when storage
/// is configured) and reports every error with its path, those of its credentials too (an HMAC secret
/// that cannot be stored or an <c>enc:v1:</c> secret no configured key decrypts). The registry decides
/// what to serve.
/// </summary>
public sealed partial class DeclarativeConfigLoader
{
    private readonly Lazy<ConfigLoadResult?> _result;

    public DeclarativeConfigLoader(IOptions<GatewayOptions> options, Registry.CredentialProtector protector, ILogger<DeclarativeConfigLoader> logger) =>
        _result = new Lazy<ConfigLoadResult?>(() => Load(options.Value.ConfigFile, protector, logger));

    /// <summary>The file's parse result, or null when no file is configured.</summary>
    public ConfigLoadResult? Parsed => _result.Value;

    private static ConfigLoadResult? Load(string? path, Registry.CredentialProtector protector, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        ConfigLoadResult result;
        try
        {
            result = KongDeclarativeParser.Parse(File.ReadAllText(path));
            if (result.IsValid)
            {
                var errors = new List<ConfigIssue>();
                protector.Protect(result.Config!, errors);
                if (errors.Count > 0)
                {
                    result = new(null, errors, result.Warnings);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            result = new(null, [new("", $"cannot read config file '{path}': {ex.Message}")], []);
        }

        foreach (var warning in result.Warnings)
        {
            LogWarning(logger, path, warning.ToString());
        }

        foreach (var error in result.Errors)
        {
            LogInvalid(logger, path, error.ToString());
        }

        if (result.IsValid)
        {
            LogLoaded(logger, path, result.Config!.Services.Count, result.Config.Routes.Count);
        }

        return result;
    }

    [LoggerMessage(EventId = LogEvents.ConfigLoaded, Level = LogLevel.Information,
        Message = "Read declarative config {Path}: {Services} services, {Routes} routes")]
    private static partial void LogLoaded(ILogger logger, string path, int services, int routes);

    [LoggerMessage(EventId = LogEvents.ConfigInvalid, Level = LogLevel.Error, Message = "Invalid declarative config {Path}: {Error}")]
    private static partial void LogInvalid(ILogger logger, string path, string error);

    [LoggerMessage(EventId = LogEvents.ConfigWarning, Level = LogLevel.Warning, Message = "Declarative config {Path}: {Warning}")]
    private static partial void LogWarning(ILogger logger, string path, string warning);
}
