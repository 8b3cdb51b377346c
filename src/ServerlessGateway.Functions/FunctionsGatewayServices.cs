using Microsoft.AspNetCore.Server.Kestrel.Core;
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
        return services;
    }
}
