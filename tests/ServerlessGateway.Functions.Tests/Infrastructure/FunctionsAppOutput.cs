using System.Reflection;
using System.Text.Json;

namespace ServerlessGateway.Functions.Tests.Infrastructure;

/// <summary>The built Functions app as the Azure Functions host finds it: its output directory and files.</summary>
internal static class FunctionsAppOutput
{
    public static string Directory { get; } = Metadata("FunctionsAppOutputDirectory");

    public static string RepositoryRoot { get; } = Metadata("RepositoryRoot");

    public static string PathOf(string file) => Path.Combine(Directory, file);

    public static JsonDocument ReadJson(string file)
    {
        var path = PathOf(file);
        Assert.True(File.Exists(path), $"{file} is missing from the Functions app output {Directory}");
        return JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
    }

    /// <summary>Every function in functions.metadata, in file order.</summary>
    public static IReadOnlyList<FunctionDescription> Functions { get; } = LoadFunctions();

    public static IReadOnlyList<FunctionDescription> HttpFunctions { get; } = Functions.Where(f => f.HttpTrigger is not null).ToArray();

    private static List<FunctionDescription> LoadFunctions()
    {
        using var document = ReadJson("functions.metadata");
        return document.RootElement.EnumerateArray()
            .Select(f => FunctionDescription.From(
                f.GetProperty("name").GetString()!,
                f.GetProperty("entryPoint").GetString()!,
                f.GetProperty("scriptFile").GetString()!,
                f.GetProperty("bindings").EnumerateArray().Select(b => b.GetRawText())))
            .ToList();
    }

    private static string Metadata(string key) =>
        typeof(FunctionsAppOutput).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"no {key} metadata");
}
