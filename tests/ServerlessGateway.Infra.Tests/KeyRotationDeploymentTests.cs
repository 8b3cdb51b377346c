using System.Text;
using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// Rotating the admin key or the secrets key (gatewaySecondAdminKey, gatewayPreviousSecretsKeyMaterial):
/// the extra Key Vault secrets and app settings exist while those are set. Without them see
/// <see cref="FrontDoorDeploymentTests"/> and <see cref="DevDeploymentTests"/>.
/// </summary>
public sealed class KeyRotationDeploymentTests(KeyRotationDeploymentFixture fixture) : IClassFixture<KeyRotationDeploymentFixture>
{
    private const string SecondAdminKey = KeyRotationDeploymentFixture.SecondAdminKey;
    private const string PreviousMaterial = KeyRotationDeploymentFixture.PreviousSecretsKeyMaterial;

    private DeploymentSnapshot Snapshot => fixture.Snapshot;

    private JsonObject Site => Snapshot.Single("Microsoft.Web/sites");

    private static string PreviousSecretsKey => Convert.ToBase64String(Encoding.UTF8.GetBytes(PreviousMaterial));

    [BicepFact]
    public void RotationKeys_AreStoredInTheirOwnKeyVaultSecrets_NextToTheCurrentOnes()
    {
        var vault = Snapshot.Single("Microsoft.KeyVault/vaults");
        var secrets = Snapshot.OfType("Microsoft.KeyVault/vaults/secrets");

        Assert.Equal(
            ["gateway-admin-key", "gateway-admin-key-2", "gateway-secrets-key", "gateway-secrets-key-previous"],
            secrets.Select(s => s["name"].Str()!.Split('/')[^1]).Order(StringComparer.Ordinal));
        Assert.All(secrets, s => Assert.StartsWith(vault.Id() + "/secrets/", s.Id(), StringComparison.Ordinal));

        var second = Secret("gateway-admin-key-2");
        Assert.Equal(SecondAdminKey, second["properties"]?["value"].Str());
        Assert.Equal("text/plain", second["properties"]?["contentType"].Str());
        Assert.Null(second["condition"]);

        // The same encoding as gateway-secrets-key: base64 of the material's UTF-8 bytes, a 256-bit key.
        var previous = Secret("gateway-secrets-key-previous");
        Assert.Equal(PreviousSecretsKey, previous["properties"]?["value"].Str());
        Assert.Equal(32, Convert.FromBase64String(previous["properties"]!["value"].Str()!).Length);
        Assert.Equal("application/octet-stream; base64", previous["properties"]?["contentType"].Str());
        Assert.Equal("[base64(parameters('gatewaySecretsKeyMaterial'))]", Secret("gateway-secrets-key")["properties"]?["value"].Str());
        Assert.Null(previous["condition"]);
    }

    [BicepFact]
    public void AppSettings_AddTheSecondAdminKeyAndThePreviousSecretsKey_AsKeyVaultReferences()
    {
        var settings = Site.AppSettings();

        Assert.Equal(SecretReference("gateway-admin-key"), settings["Gateway__Admin__Keys__0"]);
        Assert.Equal(SecretReference("gateway-admin-key-2"), settings["Gateway__Admin__Keys__1"]);
        Assert.Equal(SecretReference("gateway-secrets-key"), settings["Gateway__Secrets__Key"]);
        Assert.Equal(SecretReference("gateway-secrets-key-previous"), settings["Gateway__Secrets__PreviousKeys__0"]);
        // Nothing else about keys: one second admin key, one previous secrets key.
        Assert.Equal(
            ["Gateway__Admin__Keys__0", "Gateway__Admin__Keys__1", "Gateway__Secrets__Key", "Gateway__Secrets__PreviousKeys__0"],
            settings.Keys.Where(k => k.StartsWith("Gateway__Admin__Keys__", StringComparison.Ordinal) || k.StartsWith("Gateway__Secrets__", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // The app identity that resolves the references may read every secret of the vault.
        Snapshot.Assignment(
            SnapshotAssertions.KeyVaultSecretsUser,
            Snapshot.Single("Microsoft.KeyVault/vaults").Id(),
            SnapshotAssertions.ReferenceTo(Snapshot.Single("Microsoft.ManagedIdentity/userAssignedIdentities"), "principalId"));
    }

    [BicepFact]
    public void RotationKeys_AppearNowhereButInTheirSecrets()
    {
        var root = Snapshot.Root.DeepClone().AsObject();
        var secrets = root["predictedResources"]!.AsArray().OfType<JsonObject>()
            .Where(r => r["type"].Str() == "Microsoft.KeyVault/vaults/secrets")
            .ToArray();
        Assert.Equal(4, secrets.Length);
        foreach (var secret in secrets)
        {
            secret["properties"]!.AsObject().Remove("value");
        }

        // Not in an app setting, an output, a tag or any other resource.
        var rest = root.ToJsonString();
        Assert.DoesNotContain(SecondAdminKey, rest, StringComparison.Ordinal);
        Assert.DoesNotContain(PreviousMaterial, rest, StringComparison.Ordinal);
        Assert.DoesNotContain(PreviousSecretsKey, rest, StringComparison.Ordinal);
        Assert.NotNull(root["outputs"]);
    }

    [BicepTheory]
    // Too short for the gateway (16) or to become gatewayAdminKey later (32).
    [InlineData("gatewaySecondAdminKey", "sixteen-chars-ok", "gatewaySecondAdminKey must be empty or at least 32 characters long")]
    [InlineData("gatewaySecondAdminKey", "thirty-one-characters-000000000", "gatewaySecondAdminKey must be empty or at least 32 characters long")]
    // Not a 256-bit key: the gateway would refuse to start.
    [InlineData("gatewayPreviousSecretsKeyMaterial", "thirty-one-characters-000000000", "gatewayPreviousSecretsKeyMaterial must be empty or exactly 32 characters long")]
    [InlineData("gatewayPreviousSecretsKeyMaterial", "x", "gatewayPreviousSecretsKeyMaterial must be empty or exactly 32 characters long")]
    public async Task InvalidRotationKey_StopsTheDeployment_NamingTheParameter(string parameter, string value, string message)
    {
        using var infra = UnsecuredInfraCopy.Create(KeyRotationDeploymentFixture.RotationParameters);

        var result = await DeploymentSnapshot.RefusedAsync("invalid-rotation", KeyRotationDeploymentFixture.Parameters(new Dictionary<string, object>
        {
            [parameter] = value,
        }), infra);

        Assert.Contains(message, result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }

    [BicepFact]
    public async Task SecondAdminKey_OfExactly32Characters_IsAccepted()
    {
        using var infra = UnsecuredInfraCopy.Create(KeyRotationDeploymentFixture.RotationParameters);

        var snapshot = await DeploymentSnapshot.CreateAsync("second-key-32", KeyRotationDeploymentFixture.Parameters(new Dictionary<string, object>
        {
            ["gatewaySecondAdminKey"] = "exactly-thirty-two-characters-00",
        }), infra);

        var secret = Assert.Single(snapshot.OfType("Microsoft.KeyVault/vaults/secrets"), s => s["name"].Str()!.EndsWith("/gateway-admin-key-2", StringComparison.Ordinal));
        Assert.Equal("exactly-thirty-two-characters-00", secret["properties"]?["value"].Str());
        // Only the admin key is being rotated.
        Assert.DoesNotContain(snapshot.OfType("Microsoft.KeyVault/vaults/secrets"), s => s["name"].Str()!.EndsWith("/gateway-secrets-key-previous", StringComparison.Ordinal));
        Assert.Contains("Gateway__Admin__Keys__1", snapshot.Single("Microsoft.Web/sites").AppSettings().Keys);
        Assert.DoesNotContain("Gateway__Secrets__PreviousKeys__0", snapshot.Single("Microsoft.Web/sites").AppSettings().Keys);
    }

    private JsonObject Secret(string name) =>
        Assert.Single(Snapshot.OfType("Microsoft.KeyVault/vaults/secrets"), s => s["name"].Str()!.EndsWith('/' + name));

    private string SecretReference(string secretName) =>
        $"[format('@Microsoft.KeyVault(SecretUri={{0}})', {SnapshotAssertions.Reference(Secret(secretName), "secretUri")})]";
}
