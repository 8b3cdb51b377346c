using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessGateway.Infra.Tests;

public sealed partial class BicepLintTests
{
    private static readonly string[] s_bicepFiles = Directory.GetFiles(RepositoryPaths.Infra, "*.bicep", SearchOption.AllDirectories);

    [BicepFact]
    public async Task Lint_EveryBicepFileUnderInfra_ReportsNoWarningOrError()
    {
        Assert.Contains(RepositoryPaths.MainBicep, s_bicepFiles);
        Assert.True(s_bicepFiles.Length >= 6, $"Expected main.bicep and its modules, found {s_bicepFiles.Length} files.");

        var result = await BicepCli.RunAsync(RepositoryPaths.Root, "lint", "--pattern", "infra/**/*.bicep");

        Assert.True(result.Diagnostics.Count == 0, string.Join('\n', result.Diagnostics));
        Assert.True(result.ExitCode == 0, result.Describe());
    }

    [Fact]
    public void BicepConfig_EnablesTheLinter_WithEveryConfiguredRuleAnError()
    {
        var config = JsonNode.Parse(File.ReadAllText(RepositoryPaths.BicepConfig))!;
        var core = config["analyzers"]?["core"];

        Assert.True(core?["enabled"].Bool());
        var rules = core?["rules"]?.AsObject() ?? [];
        Assert.All(rules, rule => Assert.Equal("error", rule.Value?["level"].Str()));
        // The rules that guard secrets and portability are among them.
        foreach (var required in new[]
        {
            "no-unused-params", "no-unused-vars", "no-hardcoded-env-urls", "outputs-should-not-contain-secrets",
            "secure-parameter-default", "secure-secrets-in-params", "use-secure-value-for-secure-inputs",
            "protect-commandtoexecute-secrets", "use-stable-resource-identifiers", "explicit-values-for-loc-params",
        })
        {
            Assert.True(rules.ContainsKey(required), $"bicepconfig.json does not raise {required} to error.");
        }
    }

    [Fact]
    public void Modules_AreLocalFiles_NotRegistryReferences()
    {
        var modules = s_bicepFiles
            .SelectMany(file => ModuleDeclaration().Matches(File.ReadAllText(file)).Select(m => (file, path: m.Groups["path"].Value)))
            .ToArray();

        Assert.NotEmpty(modules);
        Assert.All(modules, module =>
        {
            Assert.DoesNotMatch("^(br|ts)[:/]", module.path);
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(module.file)!, module.path)), $"{module.file}: module '{module.path}' is not a local file.");
        });
    }

    [GeneratedRegex(@"^\s*module\s+\w+\s+'(?<path>[^']+)'", RegexOptions.Multiline)]
    private static partial Regex ModuleDeclaration();
}
