using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// A copy of infra/ in which the named parameters lose <c>@secure()</c> and nothing else changes.
/// <c>bicep snapshot</c> never evaluates the given value of a secure parameter, so it cannot predict
/// what that value flows into; in the copy it can. The linter rule that (rightly) insists on
/// <c>@secure()</c> for such names is off in the copy's bicepconfig.json only.
/// <see cref="CompiledTemplateTests"/> checks that the real template declares them secure.
/// </summary>
internal sealed class UnsecuredInfraCopy : IDisposable
{
    private readonly string _root;

    private UnsecuredInfraCopy(string root)
    {
        _root = root;
    }

    public string MainBicep => Path.Combine(_root, "infra", "main.bicep");

    public string BicepConfig => Path.Combine(_root, "infra", "bicepconfig.json");

    /// <param name="parameters">File under infra/ and the parameter in it, for example ("modules/keyvault.bicep", "secondAdminKey").</param>
    public static UnsecuredInfraCopy Create(params (string File, string Parameter)[] parameters)
    {
        var root = Path.Combine(AppContext.BaseDirectory, "snapshots", $"infra-{Guid.NewGuid():N}");
        var copy = new UnsecuredInfraCopy(root);
        try
        {
            CopyDirectory(RepositoryPaths.Infra, Path.Combine(root, "infra"));
            foreach (var (file, parameter) in parameters)
            {
                var path = Path.Combine(root, "infra", file);
                var text = File.ReadAllText(path);
                // @secure() directly above the parameter's other decorators and its declaration.
                var pattern = new Regex(@"^@secure\(\)\r?\n((?:@[^\r\n]*\r?\n)*param " + Regex.Escape(parameter) + " )", RegexOptions.Multiline);
                Assert.True(pattern.Matches(text).Count == 1, $"infra/{file} has no @secure() parameter {parameter}.");
                File.WriteAllText(path, pattern.Replace(text, "$1"));
            }

            var config = JsonNode.Parse(File.ReadAllText(copy.BicepConfig))!;
            config["analyzers"]!["core"]!["rules"]!["secure-secrets-in-params"] = new JsonObject { ["level"] = "off" };
            File.WriteAllText(copy.BicepConfig, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(target, Path.GetFileName(directory)));
        }
    }
}
