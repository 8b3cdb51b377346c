using System.Text.Json;
using Microsoft.Extensions.Configuration;
using ServerlessGateway.Functions.Tests.Infrastructure;

namespace ServerlessGateway.Functions.Tests;

/// <summary>local.settings.sample.json, which run-local.sh copies to local.settings.json for `func start`.</summary>
public sealed class LocalSettingsSampleTests
{
    [Fact]
    public void Sample_HasTheSettingsALocalFunctionsHostNeeds()
    {
        var values = Values();

        Assert.Equal("dotnet-isolated", values["FUNCTIONS_WORKER_RUNTIME"]);
        Assert.Equal("UseDevelopmentStorage=true", values["AzureWebJobsStorage"]);
        Assert.Equal("UseDevelopmentStorage=true", values["GatewayStorage"]);
        Assert.False(string.IsNullOrWhiteSpace(values["Gateway__Admin__Keys__0"]));
        // The demo backend listens on loopback, which the Functions host denies unless told otherwise.
        Assert.Equal("true", values["Gateway__Upstreams__AllowLoopback"]);
    }

    [Fact]
    public void EveryGatewaySettingInTheSample_IsOneTheGatewayReads()
    {
        var gatewayValues = Values()
            .Where(kv => kv.Key.StartsWith("Gateway__", StringComparison.Ordinal) && !ReadByStorageAdapter.Contains(kv.Key))
            .ToDictionary(kv => kv.Key.Replace("__", ":", StringComparison.Ordinal), kv => (string?)kv.Value);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(gatewayValues).Build();

        Assert.NotEmpty(gatewayValues);
        var options = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>(o => o.ErrorOnUnknownConfiguration = true);
        Assert.NotNull(options);
    }

    /// <summary>Gateway keys that ServerlessGateway.Storage.Tables reads rather than Core's options.</summary>
    private static readonly HashSet<string> ReadByStorageAdapter = ["Gateway__TablePrefix"];

    private static Dictionary<string, string> Values()
    {
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(FunctionsAppOutput.RepositoryRoot, "local.settings.sample.json")));
        return sample.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }
}
