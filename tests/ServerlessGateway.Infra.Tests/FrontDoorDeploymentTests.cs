using System.Text.Json.Nodes;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// The production shape of the deployment (Front Door on), predicted by <c>bicep snapshot</c> with
/// parameters, conditions and loops evaluated.
/// </summary>
public sealed class FrontDoorDeploymentTests(FrontDoorDeploymentFixture fixture) : IClassFixture<FrontDoorDeploymentFixture>
{
    private const string Internet = "198.51.100.7";
    private const string AdminV4 = "203.0.113.9";
    private const string AdminV6 = "2001:db8::5";

    private DeploymentSnapshot Snapshot => fixture.Snapshot;

    private JsonObject Site => Snapshot.Single("Microsoft.Web/sites");

    [BicepFact]
    public void Deployment_CreatesFrontDoorPremiumWithEndpointRouteWafAndSecurityPolicy()
    {
        foreach (var type in new[]
        {
            "Microsoft.Cdn/profiles", "Microsoft.Cdn/profiles/afdEndpoints", "Microsoft.Cdn/profiles/originGroups",
            "Microsoft.Cdn/profiles/originGroups/origins", "Microsoft.Cdn/profiles/afdEndpoints/routes",
            "Microsoft.Cdn/profiles/securityPolicies", "Microsoft.Cdn/profiles/customDomains",
            "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies",
        })
        {
            Assert.Single(Snapshot.OfType(type));
        }

        var profile = Snapshot.Single("Microsoft.Cdn/profiles");
        Assert.Equal("Premium_AzureFrontDoor", profile["sku"]?["name"].Str());
        Assert.Equal(120, profile["properties"]?["originResponseTimeoutSeconds"].Int());
        Assert.Equal(Site["properties"]?["defaultHostName"].Str() ?? SnapshotAssertions.ReferenceTo(Site, "defaultHostName"),
            Snapshot.Single("Microsoft.Cdn/profiles/originGroups/origins")["properties"]?["hostName"].Str());
    }

    [BicepFact]
    public void FunctionApp_AcceptsTrafficOnlyFromThisFrontDoorProfile()
    {
        var siteConfig = Site["properties"]!["siteConfig"]!;
        var frontDoorId = SnapshotAssertions.ReferenceTo(Snapshot.Single("Microsoft.Cdn/profiles"), "frontDoorId");

        Assert.Equal("Deny", siteConfig["ipSecurityRestrictionsDefaultAction"].Str());
        var rule = Assert.Single(siteConfig["ipSecurityRestrictions"]!.AsArray())!;
        Assert.Equal("Allow", rule["action"].Str());
        Assert.Equal("ServiceTag", rule["tag"].Str());
        Assert.Equal("AzureFrontDoor.Backend", rule["ipAddress"].Str());
        Assert.Equal([frontDoorId], Json.Strings(rule["headers"]?["x-azure-fdid"]));
        // The gateway checks the same header itself (DESIGN.md section 5).
        Assert.Equal(frontDoorId, Site.AppSettings()["Gateway__FrontDoorId"]);
        // The SCM site stays reachable for deployment; it accepts Entra ID tokens only.
        Assert.False(siteConfig["scmIpSecurityRestrictionsUseMain"].Bool());
        Assert.Equal("Allow", siteConfig["scmIpSecurityRestrictionsDefaultAction"].Str());
    }

    [BicepFact]
    public void AppIdentity_HoldsExactlyItsDataRoles_OnTheResourcesTheyAreFor()
    {
        var identity = Snapshot.Single("Microsoft.ManagedIdentity/userAssignedIdentities");
        var principal = SnapshotAssertions.ReferenceTo(identity, "principalId");
        var storage = Snapshot.Single("Microsoft.Storage/storageAccounts").Id();

        var tables = Snapshot.Assignment(SnapshotAssertions.StorageTableDataContributor, storage, principal);
        Assert.Equal("ServicePrincipal", tables["properties"]?["principalType"].Str());
        Snapshot.Assignment(SnapshotAssertions.StorageBlobDataOwner, storage, principal);
        Snapshot.Assignment(SnapshotAssertions.MonitoringMetricsPublisher, Snapshot.Single("Microsoft.Insights/components").Id(), principal);
        Snapshot.Assignment(SnapshotAssertions.KeyVaultSecretsUser, Snapshot.Single("Microsoft.KeyVault/vaults").Id(), principal);
        Assert.Equal(4, Snapshot.OfType("Microsoft.Authorization/roleAssignments").Count(a => a["properties"]?["principalId"].Str() == principal));

        // That identity is the one the app runs as and resolves Key Vault references with.
        Assert.Equal("UserAssigned", Site["identity"]?["type"].Str());
        Assert.Equal([identity.Id()], Site["identity"]!["userAssignedIdentities"]!.AsObject().Select(p => p.Key));
        Assert.Equal(identity.Id(), Site["properties"]?["keyVaultReferenceIdentity"].Str());
        Assert.Equal(identity.Id(), Site["properties"]?["functionAppConfig"]?["deployment"]?["storage"]?["authentication"]?["userAssignedIdentityResourceId"].Str());
    }

    [BicepFact]
    public void DeployingUser_GetsTableDataAndSecretsOfficer_ForLocalRunsAgainstTheCloud()
    {
        const string User = FrontDoorDeploymentFixture.DeployerPrincipalId;

        var tables = Snapshot.Assignment(SnapshotAssertions.StorageTableDataContributor, Snapshot.Single("Microsoft.Storage/storageAccounts").Id(), User);
        var secrets = Snapshot.Assignment(SnapshotAssertions.KeyVaultSecretsOfficer, Snapshot.Single("Microsoft.KeyVault/vaults").Id(), User);

        Assert.Equal("User", tables["properties"]?["principalType"].Str());
        Assert.Equal("User", secrets["properties"]?["principalType"].Str());
    }

    [BicepFact]
    public void AppSettings_ReachStorageMonitoringAndSecretsThroughTheIdentity()
    {
        var settings = Site.AppSettings();
        var clientId = SnapshotAssertions.ReferenceTo(Snapshot.Single("Microsoft.ManagedIdentity/userAssignedIdentities"), "clientId");
        var storage = Snapshot.Single("Microsoft.Storage/storageAccounts");
        string SecretReference(string secretName)
        {
            var secret = Assert.Single(Snapshot.OfType("Microsoft.KeyVault/vaults/secrets"), s => s["name"].Str()!.EndsWith('/' + secretName));
            return $"[format('@Microsoft.KeyVault(SecretUri={{0}})', {SnapshotAssertions.Reference(secret, "secretUri")})]";
        }

        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal(clientId, settings["AzureWebJobsStorage__clientId"]);
        Assert.Equal(SnapshotAssertions.ReferenceTo(storage, "primaryEndpoints.blob"), settings["AzureWebJobsStorage__blobServiceUri"]);
        Assert.Equal(SnapshotAssertions.ReferenceTo(storage, "primaryEndpoints.table"), settings["GatewayStorage__tableServiceUri"]);
        Assert.Equal(clientId, settings["GatewayStorage__clientId"]);
        Assert.Equal(clientId, settings["AZURE_CLIENT_ID"]);
        Assert.Equal("true", settings["AzureWebJobsDisableHomepage"]);
        Assert.Equal("Gateway", settings["Gateway__TablePrefix"]);
        Assert.Equal("5", settings["Gateway__ConfigRefreshSeconds"]);
        Assert.Equal(SecretReference("gateway-admin-key"), settings["Gateway__Admin__Keys__0"]);
        Assert.Equal(SecretReference("gateway-secrets-key"), settings["Gateway__Secrets__Key"]);
        Assert.Equal("false", settings["Gateway__Upstreams__AllowLoopback"]);
        Assert.Equal("false", settings["Gateway__Upstreams__AllowLinkLocal"]);
        // No VNet: a private address could only be the platform's own network.
        Assert.Equal("false", settings["Gateway__Upstreams__AllowPrivateNetworks"]);
        Assert.StartsWith("[format('ClientId={0};Authorization=AAD'", settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"], StringComparison.Ordinal);
        // Flex Consumption rejects these; the runtime comes from functionAppConfig.
        Assert.DoesNotContain("FUNCTIONS_WORKER_RUNTIME", settings.Keys);
        Assert.DoesNotContain("WEBSITE_RUN_FROM_PACKAGE", settings.Keys);
    }

    [BicepFact]
    public void WithoutKeyRotation_OnlyTheAdminKeyAndSecretsKeyAreStored_AndReferenced()
    {
        // gatewaySecondAdminKey and gatewayPreviousSecretsKeyMaterial left at their default (empty).
        var secrets = Snapshot.OfType("Microsoft.KeyVault/vaults/secrets");
        var settings = Site.AppSettings();

        Assert.Equal(["gateway-admin-key", "gateway-secrets-key"], secrets.Select(s => s["name"].Str()!.Split('/')[^1]).Order(StringComparer.Ordinal));
        Assert.All(secrets, s => Assert.Null(s["condition"]));
        Assert.Equal(
            ["Gateway__Admin__Keys__0", "Gateway__Secrets__Key"],
            settings.Keys.Where(k => k.StartsWith("Gateway__Admin__Keys__", StringComparison.Ordinal) || k.StartsWith("Gateway__Secrets__", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [BicepFact]
    public void SecurityPolicy_PutsTheWafInFrontOfTheEndpointAndTheCustomDomain()
    {
        var parameters = Snapshot.Single("Microsoft.Cdn/profiles/securityPolicies")["properties"]!["parameters"]!;
        var association = Assert.Single(parameters["associations"]!.AsArray())!;

        Assert.Equal("WebApplicationFirewall", parameters["type"].Str());
        Assert.Equal(Snapshot.Single("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies").Id(), parameters["wafPolicy"]?["id"].Str());
        Assert.Equal(
            new[] { Snapshot.Single("Microsoft.Cdn/profiles/afdEndpoints").Id(), Snapshot.Single("Microsoft.Cdn/profiles/customDomains").Id() }.Order(),
            association["domains"]!.AsArray().Select(d => d?["id"].Str()!).Order());
        Assert.Equal(["/*"], Json.Strings(association["patternsToMatch"]));
    }

    [BicepFact]
    public void CustomDomain_IsRoutedHttpsOnly_WithAManagedTls12Certificate()
    {
        var domain = Snapshot.Single("Microsoft.Cdn/profiles/customDomains");
        var route = Snapshot.Single("Microsoft.Cdn/profiles/afdEndpoints/routes")["properties"]!;

        Assert.Equal(FrontDoorDeploymentFixture.CustomDomain, domain["properties"]?["hostName"].Str());
        Assert.Equal("ManagedCertificate", domain["properties"]?["tlsSettings"]?["certificateType"].Str());
        Assert.Equal("TLS12", domain["properties"]?["tlsSettings"]?["minimumTlsVersion"].Str());
        Assert.Equal([domain.Id()], route["customDomains"]!.AsArray().Select(d => d?["id"].Str()));
        Assert.Equal(["Https"], Json.Strings(route["supportedProtocols"]));
        Assert.Equal("HttpsOnly", route["forwardingProtocol"].Str());
        Assert.Equal("Disabled", route["httpsRedirect"].Str());
    }

    [BicepFact]
    public void WafPolicy_HasAnAlphanumericName_TheDefaultRateLimit_AndTheTrimmedAdminRanges()
    {
        var waf = Snapshot.Single("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies");
        var rules = waf["properties"]!["customRules"]!["rules"]!.AsArray();
        var allowAdmin = rules.Single(r => r?["name"].Str() == "AllowManagementFromAdminRanges")!;

        Assert.Matches("^[A-Za-z][A-Za-z0-9]{0,127}$", waf["name"].Str());
        Assert.Equal("Prevention", waf["properties"]?["policySettings"]?["mode"].Str());
        Assert.Equal(2000, rules.Single(r => r?["ruleType"].Str() == "RateLimitRule")?["rateLimitThreshold"].Int());
        Assert.Equal("Enabled", allowAdmin["enabledState"].Str());
        Assert.Equal(["203.0.113.0/24", "2001:db8::/48"], Json.Strings(allowAdmin["matchConditions"]?[0]?["matchValue"]));
    }

    [BicepTheory]
    // The management API is closed to the internet, except the health probe.
    [InlineData("/_gateway/health", Internet, null)]
    [InlineData("/_gateway/health?probe=1", Internet, null)]
    [InlineData("/_gateway/health/", Internet, null)]
    [InlineData("/_gateway/config", Internet, "Block")]
    [InlineData("/_gateway", Internet, "Block")]
    [InlineData("/_gateway?dry_run=true", Internet, "Block")]
    [InlineData("/_gateway/healthz", Internet, "Block")]
    [InlineData("/_GATEWAY/Config", Internet, "Block")]
    [InlineData("/%5Fgateway/config", Internet, "Block")]
    [InlineData("//_gateway/config", Internet, "Block")]
    [InlineData("/_gateway/health/../config", Internet, "Block")]
    [InlineData("/./_gateway/config", Internet, "Block")]
    [InlineData("/api/%2e%2e/_gateway/config", Internet, "Block")]
    // ... and open to the admin ranges, IPv4 and IPv6, skipping the managed rules (config documents trip them).
    [InlineData("/_gateway/config", AdminV4, "Allow")]
    [InlineData("/_gateway/services/orders", AdminV6, "Allow")]
    // The Functions host's own endpoints are closed to everyone.
    [InlineData("/admin/host/status", Internet, "Block")]
    [InlineData("/admin/host/status", AdminV4, "Block")]
    [InlineData("/admin", Internet, "Block")]
    [InlineData("/Runtime/webhooks/eventgrid", Internet, "Block")]
    // Gateway routes that merely contain those words go on to the managed rule sets.
    [InlineData("/api/admin/users", Internet, null)]
    [InlineData("/administrator", Internet, null)]
    [InlineData("/_gatewayx", Internet, null)]
    [InlineData("/v1/orders/42?next=../x", Internet, null)]
    public void WafCustomRules_DecideEachRequest(string pathAndQuery, string socketAddress, string? expectedAction)
    {
        var rules = Snapshot.Single("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies")["properties"]!["customRules"]!["rules"]!.AsArray();

        // Front Door's RequestUri is the full URL; the rules also hold for a bare path.
        foreach (var requestUri in new[] { $"https://fde-example.z01.azurefd.net{pathAndQuery}", pathAndQuery })
        {
            var decision = WafCustomRules.Decide(rules, requestUri, socketAddress);
            Assert.True(decision?.Action == expectedAction, $"{requestUri} from {socketAddress}: expected {expectedAction ?? "no custom rule"}, got {decision?.ToString() ?? "no custom rule"}.");
        }
    }

    [BicepFact]
    public void EveryResource_CarriesTheAzdEnvironmentTag()
    {
        var tagged = Snapshot.Resources.Where(r => r["tags"] is not null).ToArray();

        Assert.Contains(Snapshot.Single("Microsoft.Resources/resourceGroups"), tagged);
        Assert.True(tagged.Length >= 10);
        Assert.All(tagged, r => Assert.Equal("infratest", r["tags"]?["azd-env-name"].Str()));
        Assert.Equal("gateway", Site["tags"]?["azd-service-name"].Str());
    }

    [BicepFact]
    public void FunctionApp_ScalesToZeroByDefault_WithinTheInstanceLimits()
    {
        var scale = Site["properties"]!["functionAppConfig"]!["scaleAndConcurrency"]!;

        Assert.Equal(2048, scale["instanceMemoryMB"].Int());
        Assert.Equal(100, scale["maximumInstanceCount"].Int());
        // No always-ready instance: nothing is billed for compute while idle.
        Assert.Empty(scale["alwaysReady"]!.AsArray());
        Assert.Equal("FC1", Snapshot.Single("Microsoft.Web/serverfarms")["sku"]?["name"].Str());
    }
}
