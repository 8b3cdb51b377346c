using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ServerlessGateway.Storage.Tables;

namespace ServerlessGateway.Functions;

public static class FunctionsGatewayServices
{
    /// <summary>
    /// The gateway's registrations on the Functions host, kept out of Program.cs so a test builds the
    /// same container. Core's defaults for this host (DESIGN.md §5): loopback upstreams denied, no
    /// generated development secrets key.
    /// </summary>
    public static IServiceCollection AddFunctionsGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddServerlessGateway(configuration, standaloneHost: false);

        // Table Storage when GatewayStorage (or GatewayStorage__tableServiceUri) is set; else DB-less.
        services.AddServerlessGatewayTables(configuration);

        // The ASP.NET Core integration runs a Kestrel server inside the worker that only the Functions
        // host reaches (over loopback). The host already enforces the request body limit
        // (100 MiB by default, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT); Kestrel's own 30 MB default
        // would silently cut streamed uploads the host accepted, so the host stays the one gate.
        services.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestBodySize = null);

        AddAzureMonitor(services, configuration);
        return services;
    }

    /// <summary>
    /// Worker telemetry with OpenTelemetry (host.json sets <c>telemetryMode</c> so the host speaks it too):
    /// the worker's spans join the host's invocation, and with <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>
    /// traces, metrics and logs go to Application Insights. Ingestion is identity-based when
    /// <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> asks for AAD (infra sets it with the app's
    /// user-assigned identity; the component has local auth disabled).
    /// </summary>
    private static void AddAzureMonitor(IServiceCollection services, IConfiguration configuration)
    {
        var telemetry = services.AddOpenTelemetry().UseFunctionsWorkerDefaults();
        if (string.IsNullOrWhiteSpace(configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]))
        {
            return;
        }

        var authentication = configuration["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] ?? "";
        telemetry.UseAzureMonitorExporter(options =>
        {
            if (authentication.Contains("Authorization=AAD", StringComparison.OrdinalIgnoreCase))
            {
                var clientId = AuthenticationSetting(authentication, "ClientId") ?? configuration["AZURE_CLIENT_ID"];
                options.Credential = new ManagedIdentityCredential(
                    clientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(clientId));
            }
        });
    }

    private static string? AuthenticationSetting(string settings, string name)
    {
        foreach (var part in settings.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && part.AsSpan(0, eq).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return part[(eq + 1)..];
            }
        }

        return null;
    }
}
