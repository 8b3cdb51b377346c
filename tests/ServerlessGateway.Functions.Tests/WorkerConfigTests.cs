using ServerlessGateway.Functions.Tests.Infrastructure;

namespace ServerlessGateway.Functions.Tests;

/// <summary>worker.config.json tells the host how to start the isolated worker.</summary>
public sealed class WorkerConfigTests
{
    [Fact]
    public void WorkerConfig_StartsTheAppsAssemblyAsADotnetIsolatedWorker()
    {
        using var config = FunctionsAppOutput.ReadJson("worker.config.json");
        var description = config.RootElement.GetProperty("description");

        Assert.Equal("dotnet-isolated", description.GetProperty("language").GetString());
        Assert.Equal("dotnet", description.GetProperty("defaultExecutablePath").GetString());
        var workerPath = description.GetProperty("defaultWorkerPath").GetString();
        Assert.Equal("ServerlessGateway.Functions.dll", workerPath);
        Assert.True(File.Exists(FunctionsAppOutput.PathOf(workerPath!)), $"{workerPath} is not in the output");
    }

    [Fact]
    public void EveryFunction_RunsInTheWorkerAssembly()
    {
        Assert.NotEmpty(FunctionsAppOutput.Functions);
        Assert.All(FunctionsAppOutput.Functions, f =>
        {
            Assert.Equal("ServerlessGateway.Functions.dll", f.ScriptFile);
            Assert.StartsWith("ServerlessGateway.Functions.", f.EntryPoint, StringComparison.Ordinal);
        });
    }
}
