using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

/// <summary>The cheap dev shape: Front Door off, VNet integration on, no deploying user.</summary>
public sealed class DevDeploymentTests(DevDeploymentFixture fixture) : IClassFixture<DevDeploymentFixture>
{
    private DeploymentSnapshot Snapshot => fixture.Snapshot;

    private JsonObject Site => Snapshot.Single("Microsoft.Web/sites");

    [BicepFact]
    public void WithoutFrontDoor_NoFrontDoorOrWafResourceIsCreated()
    {
        Assert.DoesNotContain(Snapshot.Resources, r => r["type"].Str()!.StartsWith("Microsoft.Cdn/", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(Snapshot.OfType("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies"));
        // Still the same platform underneath.
        Assert.Single(Snapshot.OfType("Microsoft.Web/sites"));
        Assert.Single(Snapshot.OfType("Microsoft.KeyVault/vaults"));
    }

    [BicepFact]
    public void WithoutFrontDoor_TheAppAcceptsDirectTraffic_AndChecksNoFrontDoorId()
    {
        var siteConfig = Site["properties"]!["siteConfig"]!;

        Assert.Equal("Allow", siteConfig["ipSecurityRestrictionsDefaultAction"].Str());
        Assert.Empty(siteConfig["ipSecurityRestrictions"]!.AsArray());
        Assert.Equal("", Site.AppSettings()["Gateway__FrontDoorId"]);
        // Still HTTPS only with TLS 1.2.
        Assert.True(Site["properties"]?["httpsOnly"].Bool());
        Assert.Equal("1.2", siteConfig["minTlsVersion"].Str());
    }

    [BicepFact]
    public void VnetIntegration_UsesASubnetDelegatedToFlexConsumption_AndOpensPrivateBackends()
    {
        var vnet = Snapshot.Single("Microsoft.Network/virtualNetworks");
        var subnet = Assert.Single(vnet["properties"]!["subnets"]!.AsArray())!;

        Assert.Equal("Microsoft.App/environments", subnet["properties"]?["delegations"]?[0]?["properties"]?["serviceName"].Str());
        Assert.Equal($"{vnet.Id()}/subnets/{subnet["name"].Str()}", Site["properties"]?["virtualNetworkSubnetId"].Str());
        Assert.Equal("true", Site.AppSettings()["Gateway__Upstreams__AllowPrivateNetworks"]);
    }

    [BicepFact]
    public void WithoutPrincipalId_OnlyTheAppIdentityGetsRoles()
    {
        var principal = SnapshotAssertions.ReferenceTo(Snapshot.Single("Microsoft.ManagedIdentity/userAssignedIdentities"), "principalId");
        var assignments = Snapshot.OfType("Microsoft.Authorization/roleAssignments");

        Assert.Equal(4, assignments.Count);
        Assert.All(assignments, a => Assert.Equal(principal, a["properties"]?["principalId"].Str()));
        Assert.Contains(assignments, a => a.RoleId() == SnapshotAssertions.StorageTableDataContributor);
    }

    [BicepFact]
    public void WithoutKeyRotation_NoSecondAdminKeyOrPreviousSecretsKey()
    {
        var settings = Site.AppSettings();

        Assert.Equal(2, Snapshot.OfType("Microsoft.KeyVault/vaults/secrets").Count);
        Assert.DoesNotContain("Gateway__Admin__Keys__1", settings.Keys);
        Assert.DoesNotContain("Gateway__Secrets__PreviousKeys__0", settings.Keys);
        Assert.Contains("Gateway__Admin__Keys__0", settings.Keys);
    }

    [BicepFact]
    public void AlwaysReadyInstances_FollowTheParameter()
    {
        var alwaysReady = Site["properties"]!["functionAppConfig"]!["scaleAndConcurrency"]!["alwaysReady"]![0]!;

        Assert.Equal("http", alwaysReady["name"].Str());
        Assert.Equal(1, alwaysReady["instanceCount"].Int());
    }
}
