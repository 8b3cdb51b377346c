using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Storage.Tables;

public static class TablesServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Table Storage adapters when <c>GatewayStorage</c> (a connection string) or
    /// <c>GatewayStorage:tableServiceUri</c> (+ optional <c>clientId</c>: managed identity) is configured:
    /// a <see cref="TableServiceClient"/> and <see cref="IConfigStore"/> on the <c>{Gateway:TablePrefix}Config</c>
    /// table and <see cref="IRateLimitStore"/> on the <c>{Gateway:TablePrefix}Rl*</c> tables, replacing earlier ones
    /// (both count their transactions on <c>GatewayMetrics</c> when <c>AddServerlessGateway</c> registered it). Returns false, registering nothing, when storage
    /// is not configured (DB-less mode).
    /// </summary>
    /// <exception cref="InvalidOperationException">A configured value is malformed; the message names the key.</exception>
    public static bool AddServerlessGatewayTables(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var client = TableServiceClientFactory.Create(configuration);
        if (client is null)
        {
            return false;
        }

        var names = TableNames.FromConfiguration(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.RemoveAll<TableServiceClient>();
        services.AddSingleton(client);
        services.RemoveAll<TableNames>();
        services.AddSingleton(names);
        services.RemoveAll<TableConfigStore>();
        services.AddSingleton<TableConfigStore>();
        services.RemoveAll<IConfigStore>();
        services.AddSingleton<IConfigStore>(sp => sp.GetRequiredService<TableConfigStore>());
        services.RemoveAll<TableRateLimitStore>();
        services.AddSingleton<TableRateLimitStore>();
        services.RemoveAll<IRateLimitStore>();
        services.AddSingleton<IRateLimitStore>(sp => sp.GetRequiredService<TableRateLimitStore>());
        return true;
    }
}
