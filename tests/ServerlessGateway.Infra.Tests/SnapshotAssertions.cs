using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

/// <summary>Reading role assignments and references in a <see cref="DeploymentSnapshot"/>.</summary>
internal static class SnapshotAssertions
{
    public const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    public const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    public const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    public const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    public const string KeyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

    public static string Id(this JsonObject resource) => resource["id"].Str()!;

    /// <summary>The resource a role assignment applies to.</summary>
    public static string Scope(this JsonObject assignment)
    {
        var id = assignment.Id();
        const string ExtensionPrefix = "[extensionResourceId('";
        if (id.StartsWith(ExtensionPrefix, StringComparison.Ordinal))
        {
            return id[ExtensionPrefix.Length..id.IndexOf('\'', ExtensionPrefix.Length)];
        }

        return id[..id.IndexOf("/providers/Microsoft.Authorization/roleAssignments/", StringComparison.Ordinal)];
    }

    public static string RoleId(this JsonObject assignment) =>
        assignment["properties"]?["roleDefinitionId"].Str()?.Split('/')[^1] ?? "";

    /// <summary>The expression for a property of a deployed resource, as the snapshot writes it.</summary>
    public static string ReferenceTo(JsonObject resource, string property) => $"[{Reference(resource, property)}]";

    /// <summary>The same, as it appears inside a larger expression.</summary>
    public static string Reference(JsonObject resource, string property) =>
        $"reference('{resource.Id()}', '{resource["apiVersion"].Str()}').{property}";

    public static JsonObject Assignment(this DeploymentSnapshot snapshot, string roleId, string scope, string principal) =>
        Assert.Single(snapshot.OfType("Microsoft.Authorization/roleAssignments"), a =>
            a.RoleId() == roleId && a.Scope() == scope && a["properties"]?["principalId"].Str() == principal);
}
