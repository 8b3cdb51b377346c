using Microsoft.AspNetCore.Server.Kestrel.Core;
using ServerlessGateway.Configuration;
using ServerlessGateway.Management;
using ServerlessGateway.Runtime;
using ServerlessGateway.Storage.Tables;

namespace ServerlessGateway.Standalone;

/// <summary>
/// The gateway core on plain Kestrel: local runs, end-to-end tests, benchmarks, containers.
/// Same config keys as the Functions host (DESIGN.md §5).
/// </summary>
public static class StandaloneGateway
{
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            ApplyLimits(kestrel.Limits);
            kestrel.AddServerHeader = false;
            // Operators may still tune every limit through the Kestrel:Limits section.
            builder.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
        });
        builder.Services.AddServerlessGateway(builder.Configuration, standaloneHost: true);
        // With GatewayStorage configured the registry lives in Table Storage; without it, in memory (DB-less).
        builder.Services.AddServerlessGatewayTables(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Deliberate limits (documented in the README): header sections stay small, a request must send
    /// its headers promptly and its body at a minimum rate (slow-loris), and a body may be as large as
    /// the Azure Functions host accepts by default (100 MiB, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) so both
    /// hosts behave alike.
    /// </summary>
    internal static void ApplyLimits(KestrelServerLimits limits)
    {
        limits.MaxRequestLineSize = 8 * 1024;
        limits.MaxRequestHeadersTotalSize = 32 * 1024;
        limits.MaxRequestHeaderCount = 100;
        limits.MaxRequestBodySize = 100L * 1024 * 1024;
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(15);
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(120);
        limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(10));
        limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(10));
        limits.Http2.MaxStreamsPerConnection = 100;
        limits.Http2.MaxRequestHeaderFieldSize = 16 * 1024;
    }

    /// <summary>Builds the app and checks the config file; a bad file yields its errors and no app.</summary>
    public static (WebApplication? App, ConfigLoadResult? Config) Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        var config = app.Services.GetRequiredService<DeclarativeConfigLoader>().Parsed;
        if (config is { IsValid: false })
        {
            return (null, config);
        }

        var pipeline = app.Services.GetRequiredService<GatewayPipeline>();
        var management = app.Services.GetRequiredService<ManagementApi>();
        app.Run(context => ManagementApi.Owns(context.Request.Path) ? management.InvokeAsync(context) : pipeline.InvokeAsync(context));
        return (app, config);
    }
}
