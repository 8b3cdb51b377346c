using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Registry;

/// <summary>
/// Loads the config before the host serves (bounded, so a storage outage cannot stall a cold start)
/// and then polls the pointer every <c>Gateway:ConfigRefreshSeconds</c>.
/// </summary>
internal sealed partial class ConfigRegistryService(
    ConfigRegistry registry,
    DeclarativeConfigLoader fileLoader,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<ConfigRegistryService> logger) : BackgroundService
{
    private static readonly TimeSpan StartupBudget = TimeSpan.FromSeconds(15);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var file = fileLoader.Parsed;
        await registry.InitializeAsync(file is { IsValid: true } ? file.Config : null, StartupBudget, cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, options.Value.ConfigRefreshSeconds));
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await registry.RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                registry.MarkStorage(StorageHealth.Unreachable);
                LogPollFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.RegistryPollFailed, Level = LogLevel.Warning, Message = "Config poll failed: {Reason}; serving the last good config")]
    private static partial void LogPollFailed(ILogger logger, string reason);
}
