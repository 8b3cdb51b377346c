using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// What a deployment of infra/main.bicep would create for a given set of parameters, predicted
/// offline by <c>bicep snapshot</c>: parameters, variables, conditions and loops are evaluated;
/// only values that exist after deployment (a principal ID, a host name) stay as expressions, and so
/// does the given value of a secure parameter (<c>[parameters('x')]</c>; see <see cref="UnsecuredInfraCopy"/>).
/// </summary>
internal sealed class DeploymentSnapshot
{
    public const string SubscriptionId = "00000000-0000-0000-0000-00000000aaaa";
    public const string TenantId = "00000000-0000-0000-0000-00000000bbbb";
    public const string Location = "westeurope";

    private DeploymentSnapshot(JsonObject root)
    {
        Root = root;
        Resources = root["predictedResources"]?.AsArray().OfType<JsonObject>().ToArray() ?? [];
    }

    public JsonObject Root { get; }

    public IReadOnlyList<JsonObject> Resources { get; }

    public IReadOnlyList<JsonObject> OfType(string type) =>
        Resources.Where(r => string.Equals(r["type"]?.GetValue<string>(), type, StringComparison.OrdinalIgnoreCase)).ToArray();

    public JsonObject Single(string type)
    {
        var matches = OfType(type);
        Assert.True(matches.Count == 1, $"Expected exactly one {type}, found {matches.Count}.");
        return matches[0];
    }

    /// <param name="infra">A copy of infra/ to snapshot instead of the real one (see <see cref="UnsecuredInfraCopy"/>).</param>
    public static async Task<DeploymentSnapshot> CreateAsync(string scenario, IReadOnlyDictionary<string, object> parameters, UnsecuredInfraCopy? infra = null)
    {
        var (result, root) = await RunAsync(scenario, parameters, infra);
        Assert.True(result.ExitCode == 0, $"bicep snapshot ({scenario}) failed: {result.Describe()}");
        Assert.True(result.Diagnostics.Count == 0, $"bicep snapshot ({scenario}) reported:\n{string.Join('\n', result.Diagnostics)}");
        return new DeploymentSnapshot(root ?? throw new InvalidOperationException($"bicep snapshot ({scenario}) wrote no snapshot."));
    }

    /// <summary>A snapshot the template refuses (a <c>fail()</c> it evaluates): what the CLI said.</summary>
    public static async Task<BicepResult> RefusedAsync(string scenario, IReadOnlyDictionary<string, object> parameters, UnsecuredInfraCopy? infra = null)
    {
        var (result, _) = await RunAsync(scenario, parameters, infra);
        Assert.True(result.ExitCode != 0, $"bicep snapshot ({scenario}) succeeded; the template was expected to refuse these parameters.");
        return result;
    }

    private static async Task<(BicepResult Result, JsonObject? Root)> RunAsync(string scenario, IReadOnlyDictionary<string, object> parameters, UnsecuredInfraCopy? infra)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "snapshots", $"{scenario}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            var paramFile = Path.Combine(directory, $"{scenario}.bicepparam");
            // `using` takes a relative path only.
            var usingPath = Path.GetRelativePath(directory, infra?.MainBicep ?? RepositoryPaths.MainBicep).Replace('\\', '/');
            var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"using '{usingPath}'\n");
            foreach (var (name, value) in parameters)
            {
                text.Append(CultureInfo.InvariantCulture, $"param {name} = {BicepLiteral(value)}\n");
            }

            await File.WriteAllTextAsync(paramFile, text.ToString());

            var result = await BicepCli.RunAsync(
                directory,
                "snapshot", paramFile,
                "--mode", "overwrite",
                "--subscription-id", SubscriptionId,
                "--tenant-id", TenantId,
                "--location", Location,
                "--deployment-name", "infra-tests",
                "--config", infra?.BicepConfig ?? RepositoryPaths.BicepConfig);

            var snapshotFile = Path.Combine(directory, $"{scenario}.snapshot.json");
            if (result.ExitCode != 0 || !File.Exists(snapshotFile))
            {
                return (result, null);
            }

            var root = JsonNode.Parse(await File.ReadAllTextAsync(snapshotFile))?.AsObject()
                ?? throw new InvalidOperationException($"{snapshotFile} is not a JSON object.");
            return (result, root);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string BicepLiteral(object value) => value switch
    {
        bool b => b ? "true" : "false",
        int i => i.ToString(CultureInfo.InvariantCulture),
        string s => $"'{s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'",
        _ => throw new ArgumentException($"No Bicep literal for {value.GetType()}.", nameof(value)),
    };
}
