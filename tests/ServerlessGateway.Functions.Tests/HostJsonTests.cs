using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Functions.Tests.Infrastructure;

namespace ServerlessGateway.Functions.Tests;

/// <summary>The host.json the Functions host reads from the app's output (DESIGN.md §5).</summary>
public sealed partial class HostJsonTests
{
    [Fact]
    public void TheOutputCarriesTheRepositoryRootHostJson_AndNoSecondCopyExists()
    {
        var root = Path.Combine(FunctionsAppOutput.RepositoryRoot, "host.json");

        Assert.Equal(File.ReadAllText(root), File.ReadAllText(FunctionsAppOutput.PathOf("host.json")));
        Assert.False(File.Exists(Path.Combine(FunctionsAppOutput.RepositoryRoot, "src", "ServerlessGateway.Functions", "host.json")));
    }

    [Fact]
    public void RoutePrefix_IsEmpty_SoGatewayPathsAreNotUnderApi()
    {
        var http = Http();

        Assert.Equal(JsonValueKind.String, http.GetProperty("routePrefix").ValueKind);
        Assert.Equal("", http.GetProperty("routePrefix").GetString());
    }

    [Fact]
    public void HttpThrottles_AdmitAtLeastTheFlexPerInstanceConcurrencyThatInfraDeploys()
    {
        var http = Http();
        var maxConcurrent = http.GetProperty("maxConcurrentRequests").GetInt32();
        var maxOutstanding = http.GetProperty("maxOutstandingRequests").GetInt32();
        var bicep = File.ReadAllText(Path.Combine(FunctionsAppOutput.RepositoryRoot, "infra", "main.bicep"));
        var deployed = int.Parse(PerInstanceConcurrencyDefault().Match(bicep).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        // The platform sends an instance up to its per-instance concurrency before it scales out; a lower
        // host throttle would queue or 429 requests the platform meant this instance to serve.
        Assert.True(deployed >= 64, $"infra's httpPerInstanceConcurrency default is {deployed}");
        Assert.True(maxConcurrent >= deployed, $"maxConcurrentRequests {maxConcurrent} < httpPerInstanceConcurrency {deployed}");
        Assert.True(maxOutstanding > maxConcurrent, $"maxOutstandingRequests {maxOutstanding} leaves no queue above {maxConcurrent}");
        Assert.True(http.GetProperty("dynamicThrottlesEnabled").GetBoolean());
    }

    [Theory]
    [InlineData("Function.ZzProxy", LogLevel.Warning)]
    [InlineData("Function.GatewayHealth", LogLevel.Warning)]
    [InlineData("Host.Results", LogLevel.Warning)]
    [InlineData("Function.ZzProxy.User", LogLevel.Information)]
    [InlineData("Function.GatewayConfig.User", LogLevel.Information)]
    [InlineData("Host.Aggregator", LogLevel.Information)]
    [InlineData("Host.Startup", LogLevel.Information)]
    public void Logging_DropsTheHostsPerInvocationRecords_AndKeepsTheGatewaysOwnLogs(string category, LogLevel lowestEnabled)
    {
        // The host filters with Microsoft.Extensions.Logging rules bound from host.json "logging:logLevel".
        // Per invocation it writes "Executing"/"Executed" (Function.<name>) and a request record
        // (Host.Results); the worker's own logs arrive as Function.<name>.User.
        var configuration = new ConfigurationBuilder().AddJsonFile(FunctionsAppOutput.PathOf("host.json")).Build();
        using var provider = new EverythingProvider();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddConfiguration(configuration.GetSection("logging")).AddProvider(provider));

        var logger = factory.CreateLogger(category);

        Assert.True(logger.IsEnabled(lowestEnabled), $"{category} should log {lowestEnabled}");
        Assert.False(logger.IsEnabled(lowestEnabled - 1), $"{category} should not log {lowestEnabled - 1}");
    }

    [Fact]
    public void ApplicationInsightsSampling_IsOn_AndNeverDropsFailures()
    {
        using var hostJson = FunctionsAppOutput.ReadJson("host.json");
        var sampling = hostJson.RootElement.GetProperty("logging").GetProperty("applicationInsights").GetProperty("samplingSettings");

        Assert.True(sampling.GetProperty("isEnabled").GetBoolean());
        var excluded = sampling.GetProperty("excludedTypes").GetString()!.Split(';');
        Assert.Contains("Request", excluded);
        Assert.Contains("Exception", excluded);
    }

    private static JsonElement Http()
    {
        using var hostJson = FunctionsAppOutput.ReadJson("host.json");
        Assert.Equal("2.0", hostJson.RootElement.GetProperty("version").GetString());
        return hostJson.RootElement.GetProperty("extensions").GetProperty("http").Clone();
    }

    [GeneratedRegex(@"param\s+httpPerInstanceConcurrency\s+int\s*=\s*(\d+)")]
    private static partial Regex PerInstanceConcurrencyDefault();

    /// <summary>A provider that would log everything, so only the configured filter rules decide.</summary>
    private sealed class EverythingProvider : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }

        public void Dispose()
        {
        }
    }
}
