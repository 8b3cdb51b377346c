using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Plugins;

/// <summary>Asserts on import errors of the first plugin's config (<c>plugins[0].config.&lt;field&gt;</c>).</summary>
internal static class PluginConfigAssert
{
    public static void Error(IReadOnlyList<ConfigIssue> errors, string field, string messagePart) =>
        Assert.True(errors.Any(e => e.Path == "plugins[0].config." + field && e.Message.Contains(messagePart, StringComparison.Ordinal)),
            $"expected an error at {field} containing '{messagePart}', got:\n{string.Join("\n", errors)}");
}
