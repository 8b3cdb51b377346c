using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Runtime;

/// <summary>
/// DB-less mode (Kong's name): loads <c>Gateway:ConfigFile</c> at start, validates and compiles it,
/// and swaps it in. A bad file is reported with every error and its path.
/// </summary>
public sealed partial class DeclarativeConfigLoader(
    IOptions<GatewayOptions> options,
    GatewaySnapshotProvider snapshots,
    ILogger<DeclarativeConfigLoader> logger)
{
    /// <summary>Loads the configured file, if any. Returns the result (null when no file is configured).</summary>
    public ConfigLoadResult? LoadConfiguredFile()
    {
        var path = options.Value.ConfigFile;
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        ConfigLoadResult result;
        try
        {
            result = KongDeclarativeParser.Parse(File.ReadAllText(path));
        }
        catch (IOException ex)
        {
            result = new(null, [new("", $"cannot read config file '{path}': {ex.Message}")], []);
        }
        catch (UnauthorizedAccessException ex)
        {
            result = new(null, [new("", $"cannot read config file '{path}': {ex.Message}")], []);
        }

        foreach (var warning in result.Warnings)
        {
            LogWarning(logger, path, warning.ToString());
        }

        if (!result.IsValid)
        {
            foreach (var error in result.Errors)
            {
                LogInvalid(logger, path, error.ToString());
            }

            return result;
        }

        var config = result.Config!;
        snapshots.Swap(GatewaySnapshot.Compile(config, "file"));
        LogLoaded(logger, path, config.Services.Count, config.Routes.Count);
        return result;
    }

    [LoggerMessage(EventId = LogEvents.ConfigLoaded, Level = LogLevel.Information,
        Message = "Loaded declarative config {Path}: {Services} services, {Routes} routes")]
    private static partial void LogLoaded(ILogger logger, string path, int services, int routes);

    [LoggerMessage(EventId = LogEvents.ConfigInvalid, Level = LogLevel.Error, Message = "Invalid declarative config {Path}: {Error}")]
    private static partial void LogInvalid(ILogger logger, string path, string error);

    [LoggerMessage(EventId = LogEvents.ConfigWarning, Level = LogLevel.Warning, Message = "Declarative config {Path}: {Warning}")]
    private static partial void LogWarning(ILogger logger, string path, string warning);
}
