using System.Reflection;

namespace ServerlessGateway.Infra.Tests;

/// <summary>Where the repository and the Bicep CLI are, as the build recorded them.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = Metadata("RepositoryRoot");

    public static string Infra { get; } = Path.Combine(Root, "infra");

    public static string MainBicep { get; } = Path.Combine(Infra, "main.bicep");

    public static string BicepConfig { get; } = Path.Combine(Infra, "bicepconfig.json");

    /// <summary>tools/bicep inside the restored Azure.Bicep.CommandLine.linux-x64 package.</summary>
    public static string BicepExecutable { get; } = Metadata("BicepPath");

    private static string Metadata(string key)
    {
        var value = typeof(RepositoryPaths).Assembly
            .GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == key)?.Value;
        if (string.IsNullOrEmpty(value))
        {
            throw new InvalidOperationException($"Assembly metadata '{key}' is missing; it is set in ServerlessGateway.Infra.Tests.csproj.");
        }

        return value;
    }
}
