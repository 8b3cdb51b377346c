using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace ServerlessGateway.Infra.Tests;

/// <summary>Assertions on the ARM JSON that <c>bicep build infra/main.bicep</c> produces.</summary>
public sealed partial class CompiledTemplateTests(CompiledTemplateFixture fixture) : IClassFixture<CompiledTemplateFixture>
{
    private const string TableDataContributorRoleId = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";

    private ArmTemplate Template => fixture.Template;

    [BicepFact]
    public void Build_MainBicep_SucceedsWithoutAnyDiagnostic()
    {
        Assert.NotNull(fixture.Build);
        Assert.True(fixture.Build.ExitCode == 0, fixture.Build.Describe());
        // BCP081 (API version unknown to this CLI) and every linter rule would show up here.
        Assert.True(fixture.Build.Diagnostics.Count == 0, string.Join('\n', fixture.Build.Diagnostics));
        Assert.Equal("subscriptionDeploymentTemplate.json#", Template.Root["$schema"].Str()?.Split('/').Last());
    }

    [BicepFact]
    public void CompiledTemplate_NeverListsKeysOrBuildsAKeyedConnectionString()
    {
        foreach (var forbidden in new[] { "listKeys(", "listAccountSas(", "listServiceSas(", "AccountKey=", "SharedAccessSignature=", "SharedAccessKey=", "InstrumentationKey=", "DefaultEndpointsProtocol=" })
        {
            Assert.DoesNotContain(forbidden, Template.Json, StringComparison.OrdinalIgnoreCase);
        }

        // A plain AzureWebJobsStorage setting would be a connection string; only its identity form is allowed.
        var settings = Template.Single("Microsoft.Web/sites").AppSettings();
        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.DoesNotContain(settings.Keys, name => name.EndsWith("ConnectionString", StringComparison.Ordinal) && name != "APPLICATIONINSIGHTS_CONNECTION_STRING");
    }

    [BicepFact]
    public void CompiledTemplate_HoldsNoSecretLiteral()
    {
        // Secure parameters carry no default: a default would be a secret in the template.
        var secureParameters = Template.Templates()
            .SelectMany(t => t["parameters"]?.AsObject() ?? [])
            .Where(p => p.Value?["type"].Str() is "securestring" or "secureObject")
            .ToArray();
        Assert.Contains(secureParameters, p => p.Key == "gatewayAdminKey");
        Assert.Contains(secureParameters, p => p.Key == "gatewaySecretsKeyMaterial");
        Assert.Contains(secureParameters, p => p.Key == "gatewaySecondAdminKey");
        Assert.Contains(secureParameters, p => p.Key == "gatewayPreviousSecretsKeyMaterial");
        Assert.Contains(secureParameters, p => p.Key == "secondAdminKey");
        Assert.Contains(secureParameters, p => p.Key == "previousSecretsKey");
        // The only default allowed is the empty string: "not set" (the optional rotation keys).
        Assert.All(secureParameters, p => Assert.True(p.Value?["defaultValue"] is null || p.Value["defaultValue"].Str() == "", $"{p.Key} has a default."));

        // Whatever is named like a credential (a property, a module parameter, a parameter default,
        // an app setting) holds an expression (a parameter, a reference), never a literal.
        var credentialValues = CredentialValues(Template.Root).ToArray();
        Assert.NotEmpty(credentialValues);
        Assert.All(credentialValues, c => Assert.True(c.Value.StartsWith('['), $"{c.Name} holds the literal '{c.Value}'."));

        // Key Vault secret values come from secure parameters only.
        var secrets = Template.OfType("Microsoft.KeyVault/vaults/secrets");
        Assert.Equal(4, secrets.Count);
        Assert.All(secrets, secret =>
        {
            var value = secret.GetString("properties", "value");
            var parameter = Assert.Single(ParameterReference().Matches(value ?? "")).Groups["name"].Value;
            Assert.Equal("securestring", secret.Template["parameters"]?[parameter]?["type"].Str());
        });

        // App settings that hold secrets are Key Vault references, resolved by the app's identity;
        // none named like a credential holds a literal.
        var settings = Template.Single("Microsoft.Web/sites").AppSettings();
        foreach (var name in new[] { "Gateway__Admin__Keys__0", "Gateway__Admin__Keys__1", "Gateway__Secrets__Key", "Gateway__Secrets__PreviousKeys__0" })
        {
            Assert.StartsWith("[format('@Microsoft.KeyVault(SecretUri={0})'", settings[name], StringComparison.Ordinal);
        }

        Assert.All(settings.Where(s => CredentialName().IsMatch(s.Key)), s => Assert.StartsWith("[", s.Value, StringComparison.Ordinal));
    }

    [BicepFact]
    public void RotationKeys_AreOptional_AndTheirSecretsAndSettingsExistOnlyWhenSet()
    {
        var parameters = Template.Root["parameters"]!;
        foreach (var name in new[] { "gatewaySecondAdminKey", "gatewayPreviousSecretsKeyMaterial" })
        {
            Assert.Equal("securestring", parameters[name]?["type"].Str());
            Assert.Equal("", parameters[name]?["defaultValue"].Str());
        }

        // Stored only when set: the condition is a bool main.bicep derives from the key being non-empty.
        var keyVault = Assert.Single(Template.OfType("Microsoft.Resources/deployments"), d => d.GetString("name") == "keyvault");
        foreach (var (secretName, nameVariable, flag, value, key) in new[]
        {
            ("gateway-admin-key-2", "secondAdminKeySecretName", "hasSecondAdminKey", "secondAdminKey", "secondAdminKey"),
            ("gateway-secrets-key-previous", "previousSecretsKeySecretName", "hasPreviousSecretsKey", "previousSecretsKey", "previousSecretsKeyMaterial"),
        })
        {
            var secret = Assert.Single(Template.OfType("Microsoft.KeyVault/vaults/secrets"), s => s.GetString("name")!.Contains($"variables('{nameVariable}')", StringComparison.Ordinal));
            Assert.Equal(secretName, secret.Template["variables"]?[nameVariable].Str());
            Assert.Equal($"[parameters('{flag}')]", secret.GetString("condition"));
            Assert.Equal($"[parameters('{value}')]", secret.GetString("properties", "value"));
            Assert.Equal($"[not(empty(variables('{key}')))]", keyVault.GetString("properties", "parameters", flag, "value"));
        }

        // The app settings follow the same flags.
        var rotationSettings = Template.Single("Microsoft.Web/sites").Template["variables"]?["rotationSettings"].Str();
        Assert.Contains("if(not(parameters('hasSecondAdminKey')), createArray(), createArray(createObject('name', 'Gateway__Admin__Keys__1'", rotationSettings, StringComparison.Ordinal);
        Assert.Contains("if(not(parameters('hasPreviousSecretsKey')), createArray(), createArray(createObject('name', 'Gateway__Secrets__PreviousKeys__0'", rotationSettings, StringComparison.Ordinal);
    }

    [BicepFact]
    public void FunctionApp_IsHttpsOnly_WithTls12_AndFtpsAndBasicAuthOff()
    {
        var site = Template.Single("Microsoft.Web/sites");

        Assert.True(site.Get("properties", "httpsOnly").Bool());
        Assert.Equal("1.2", site.GetString("properties", "siteConfig", "minTlsVersion"));
        Assert.Equal("1.2", site.GetString("properties", "siteConfig", "scmMinTlsVersion"));
        Assert.Equal("Disabled", site.GetString("properties", "siteConfig", "ftpsState"));
        Assert.Equal("Enabled", site.GetString("properties", "publicNetworkAccess"));
        Assert.Equal("[parameters('identityId')]", site.GetString("properties", "keyVaultReferenceIdentity"));
        var basicAuth = Template.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies");
        Assert.Equal(["ftp", "scm"], basicAuth.Select(p => p.GetString("name")!.Split('\'')[^2]).Order());
        Assert.All(basicAuth, p => Assert.False(p.Get("properties", "allow").Bool()));
    }

    [BicepFact]
    public void EveryTlsSetting_RequiresTls12OrLater()
    {
        var tlsSettings = Template.Root.Properties()
            .Where(p => TlsVersionName().IsMatch(p.Name))
            .Select(p => (p.Name, Value: p.Value.Str()))
            .ToArray();

        // Storage, the site and its SCM site, the Front Door custom domain.
        Assert.Equal(["minTlsVersion", "minimumTlsVersion", "minimumTlsVersion", "scmMinTlsVersion"], tlsSettings.Select(s => s.Name).Order(StringComparer.Ordinal));
        Assert.All(tlsSettings, s => Assert.Contains(s.Value, new[] { "1.2", "1.3", "TLS1_2", "TLS1_3", "TLS12", "TLS13" }));
        Assert.True(Template.Single("Microsoft.Storage/storageAccounts").Get("properties", "supportsHttpsTrafficOnly").Bool());
    }

    [BicepFact]
    public void StorageAccount_RefusesSharedKeyAndPublicBlobAccess()
    {
        var storage = Template.Single("Microsoft.Storage/storageAccounts");

        Assert.False(storage.Get("properties", "allowSharedKeyAccess").Bool());
        Assert.False(storage.Get("properties", "allowBlobPublicAccess").Bool());
        Assert.True(storage.Get("properties", "defaultToOAuthAuthentication").Bool());
        Assert.Equal("TLS1_2", storage.GetString("properties", "minimumTlsVersion"));
        Assert.Equal("None", Template.Single("Microsoft.Storage/storageAccounts/blobServices/containers").GetString("properties", "publicAccess"));
        Assert.NotEmpty(Template.OfType("Microsoft.Storage/storageAccounts/tableServices/tables"));
    }

    [BicepFact]
    public void FunctionApp_RunsDotnetIsolated10_OnFlexConsumption()
    {
        var plan = Template.Single("Microsoft.Web/serverfarms");
        var site = Template.Single("Microsoft.Web/sites");

        Assert.Equal("FC1", plan.GetString("sku", "name"));
        Assert.Equal("FlexConsumption", plan.GetString("sku", "tier"));
        Assert.True(plan.Get("properties", "reserved").Bool());
        Assert.Equal("functionapp,linux", site.GetString("kind"));
        Assert.Equal("dotnet-isolated", site.GetString("properties", "functionAppConfig", "runtime", "name"));
        Assert.Equal("10.0", site.GetString("properties", "functionAppConfig", "runtime", "version"));
        Assert.Equal("UserAssignedIdentity", site.GetString("properties", "functionAppConfig", "deployment", "storage", "authentication", "type"));
        // Sizing is left to parameters.
        Assert.Equal("[parameters('instanceMemoryMB')]", site.GetString("properties", "functionAppConfig", "scaleAndConcurrency", "instanceMemoryMB"));
        Assert.Equal("[parameters('maximumInstanceCount')]", site.GetString("properties", "functionAppConfig", "scaleAndConcurrency", "maximumInstanceCount"));
        Assert.Contains("parameters('alwaysReadyHttpInstances')", site.GetString("properties", "functionAppConfig", "scaleAndConcurrency", "alwaysReady"), StringComparison.Ordinal);
    }

    [BicepFact]
    public void ApplicationInsights_DisablesLocalAuth()
    {
        var appInsights = Template.Single("Microsoft.Insights/components");

        Assert.True(appInsights.Get("properties", "DisableLocalAuth").Bool());
        Assert.NotNull(appInsights.GetString("properties", "WorkspaceResourceId"));
        var settings = Template.Single("Microsoft.Web/sites").AppSettings();
        Assert.Equal("[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]", settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
    }

    [BicepFact]
    public void KeyVault_UsesRbacAuthorization_AndPurgeProtection()
    {
        var vault = Template.Single("Microsoft.KeyVault/vaults");

        Assert.True(vault.Get("properties", "enableRbacAuthorization").Bool());
        Assert.True(vault.Get("properties", "enablePurgeProtection").Bool());
        Assert.True(vault.Get("properties", "enableSoftDelete").Bool());
        Assert.Null(vault.Get("properties", "accessPolicies"));
    }

    [BicepFact]
    public void WafPolicy_PreventionMode_WithDefaultRuleSet21AndBotManager()
    {
        var waf = Template.Single("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies");

        Assert.Equal("Premium_AzureFrontDoor", waf.GetString("sku", "name"));
        Assert.Equal("Enabled", waf.GetString("properties", "policySettings", "enabledState"));
        Assert.Equal("Prevention", waf.GetString("properties", "policySettings", "mode"));
        Assert.Equal("Enabled", waf.GetString("properties", "policySettings", "requestBodyCheck"));
        var ruleSets = waf.Get("properties", "managedRules", "managedRuleSets")!.AsArray()
            .Select(r => (Type: r?["ruleSetType"].Str(), Version: r?["ruleSetVersion"].Str(), Action: r?["ruleSetAction"].Str()))
            .ToArray();
        Assert.Contains(("Microsoft_DefaultRuleSet", "2.1", "Block"), ruleSets);
        Assert.Contains(("Microsoft_BotManagerRuleSet", "1.1", "Block"), ruleSets);
    }

    [BicepFact]
    public void WafPolicy_CustomRules_BlockReservedAndManagementPaths_AndRateLimitPerClient()
    {
        var rules = Template.Single("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies")
            .Get("properties", "customRules", "rules")!.AsArray().OfType<JsonObject>().ToArray();

        Assert.Equal(rules.Length, rules.Select(r => r["priority"].Int()).Distinct().Count());
        string? Action(string name) => rules.Single(r => r["name"].Str() == name)["action"].Str();
        Assert.Equal("Block", Action("BlockDotSegments"));
        Assert.Equal("Block", Action("BlockHostReservedPaths"));
        Assert.Equal("Allow", Action("AllowManagementFromAdminRanges"));
        Assert.Equal("Block", Action("BlockManagementApi"));

        var rateLimit = Assert.Single(rules, r => r["ruleType"].Str() == "RateLimitRule");
        Assert.Equal("Block", rateLimit["action"].Str());
        Assert.Equal("Enabled", rateLimit["enabledState"].Str());
        Assert.Equal(1, rateLimit["rateLimitDurationInMinutes"].Int());
        Assert.Equal(["SocketAddr"], rateLimit["groupBy"]!.AsArray().Select(g => g?["variableName"].Str()));
        // It counts every client: all of IPv4 and IPv6.
        var condition = Assert.Single(rateLimit["matchConditions"]!.AsArray());
        Assert.Equal("IPMatch", condition?["operator"].Str());
        Assert.Equal(["0.0.0.0/0", "::/0"], Json.Strings(condition?["matchValue"]));
        // Address allowlists use the socket address: RemoteAddr follows X-Forwarded-For, which a client writes.
        Assert.DoesNotContain(rules.SelectMany(r => r.Properties()), p => p.Value.Str() == "RemoteAddr");
    }

    [BicepFact]
    public void FrontDoorRoute_AcceptsAndForwardsHttpsOnly_WithoutRedirect()
    {
        var route = Template.Single("Microsoft.Cdn/profiles/afdEndpoints/routes");

        Assert.Equal(["Https"], route.Get("properties", "supportedProtocols").Strings());
        Assert.Equal("HttpsOnly", route.GetString("properties", "forwardingProtocol"));
        Assert.Equal("Disabled", route.GetString("properties", "httpsRedirect"));
        Assert.Equal(["/*"], route.Get("properties", "patternsToMatch").Strings());
        Assert.Null(route.Get("properties", "cacheConfiguration"));
        Assert.Equal("Premium_AzureFrontDoor", Template.Single("Microsoft.Cdn/profiles").GetString("sku", "name"));
    }

    [BicepFact]
    public void FrontDoorOriginGroup_ProbesGatewayHealthWithHeadOverHttps()
    {
        var originGroup = Template.Single("Microsoft.Cdn/profiles/originGroups");
        var origin = Template.Single("Microsoft.Cdn/profiles/originGroups/origins");

        Assert.Equal("/_gateway/health", originGroup.GetString("properties", "healthProbeSettings", "probePath"));
        Assert.Equal("HEAD", originGroup.GetString("properties", "healthProbeSettings", "probeRequestType"));
        Assert.Equal("Https", originGroup.GetString("properties", "healthProbeSettings", "probeProtocol"));
        Assert.True(origin.Get("properties", "enforceCertificateNameCheck").Bool());
    }

    [BicepFact]
    public void FunctionApp_AccessRestriction_AdmitsOnlyFrontDoorBackendCarryingThisProfilesId()
    {
        var site = Template.Single("Microsoft.Web/sites");
        var restrictions = site.Resolve(site.Template["variables"]?["frontDoorRestrictions"])!.AsArray();

        var rule = Assert.Single(restrictions)!;
        Assert.Equal("Allow", rule["action"].Str());
        Assert.Equal("ServiceTag", rule["tag"].Str());
        Assert.Equal("AzureFrontDoor.Backend", rule["ipAddress"].Str());
        Assert.Equal(["[parameters('frontDoorId')]"], Json.Strings(rule["headers"]?["x-azure-fdid"]));
        Assert.Equal("[if(parameters('restrictToFrontDoor'), variables('frontDoorRestrictions'), createArray())]", site.GetString("properties", "siteConfig", "ipSecurityRestrictions"));
        Assert.Equal("[if(parameters('restrictToFrontDoor'), 'Deny', 'Allow')]", site.GetString("properties", "siteConfig", "ipSecurityRestrictionsDefaultAction"));
        // The SCM site keeps its own rules so deployments still work.
        Assert.False(site.Get("properties", "siteConfig", "scmIpSecurityRestrictionsUseMain").Bool());
    }

    [BicepFact]
    public void RoleAssignments_GiveTheAppIdentityTableDataContributorOnTheStorageAccount()
    {
        var assignment = Assert.Single(Template.OfType("Microsoft.Authorization/roleAssignments"), a =>
            a.GetString("properties", "roleDefinitionId")!.Contains("storageTableDataContributor", StringComparison.Ordinal)
            && a.GetString("properties", "principalId") == "[parameters('appPrincipalId')]");

        Assert.Equal(TableDataContributorRoleId, assignment.Resolve(assignment.Template["variables"]?["roles"])?["storageTableDataContributor"].Str());
        Assert.Equal("ServicePrincipal", assignment.GetString("properties", "principalType"));
        Assert.Equal("[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]", assignment.GetString("scope"));
        // appPrincipalId is the user-assigned identity the site runs as.
        var rolesModule = Assert.Single(Template.OfType("Microsoft.Resources/deployments"), d => d.GetString("name") == "role-assignments");
        var appPrincipalId = rolesModule.GetString("properties", "parameters", "appPrincipalId", "value");
        Assert.Contains("'Microsoft.Resources/deployments', 'identity')", appPrincipalId, StringComparison.Ordinal);
        Assert.EndsWith(".outputs.principalId.value]", appPrincipalId, StringComparison.Ordinal);
        Assert.Equal("UserAssigned", Template.Single("Microsoft.Web/sites").GetString("identity", "type"));
    }

    [BicepFact]
    public void Outputs_GiveAzdTheFunctionNameFrontDoorUrlTenantAndLocation()
    {
        var outputs = Template.Root["outputs"]!.AsObject();

        foreach (var name in new[] { "AZURE_FUNCTION_NAME", "AZURE_FRONT_DOOR_ENDPOINT_URL", "AZURE_TENANT_ID", "AZURE_LOCATION", "AZURE_RESOURCE_GROUP", "AZURE_KEY_VAULT_NAME", "GATEWAY_URL" })
        {
            Assert.True(outputs.ContainsKey(name), $"Output {name} is missing.");
        }

        Assert.All(outputs, o => Assert.DoesNotContain("gatewayAdminKey", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
        Assert.All(outputs, o => Assert.DoesNotContain("gatewaySecretsKeyMaterial", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
        Assert.All(outputs, o => Assert.DoesNotContain("gatewaySecondAdminKey", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
        Assert.All(outputs, o => Assert.DoesNotContain("gatewayPreviousSecretsKeyMaterial", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
        Assert.All(outputs, o => Assert.DoesNotContain("variables('secondAdminKey')", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
        Assert.All(outputs, o => Assert.DoesNotContain("variables('previousSecretsKeyMaterial')", o.Value?.ToJsonString() ?? "", StringComparison.Ordinal));
    }

    [BicepFact]
    public void ParametersFile_MapsTheAzdEnvironment_AndLeavesNoRequiredParameterUnset()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Infra, "main.parameters.json")))!["parameters"]!.AsObject();
        var declared = Template.Root["parameters"]!.AsObject();

        Assert.Equal("${AZURE_ENV_NAME}", file["environmentName"]?["value"].Str());
        Assert.Equal("${AZURE_LOCATION}", file["location"]?["value"].Str());
        Assert.Equal("${AZURE_PRINCIPAL_ID}", file["principalId"]?["value"].Str());
        // Optional parameters with a default are never read from config.json's infra.parameters by azd:
        // an environment variable is their only way in. Unset, they resolve to the default (empty).
        Assert.Equal("${GATEWAY_SECOND_ADMIN_KEY=}", file["gatewaySecondAdminKey"]?["value"].Str());
        Assert.Equal("${GATEWAY_PREVIOUS_SECRETS_KEY_MATERIAL=}", file["gatewayPreviousSecretsKeyMaterial"]?["value"].Str());
        Assert.All(file, p => Assert.True(declared.ContainsKey(p.Key), $"main.parameters.json sets {p.Key}, which main.bicep does not declare."));
        // A parameter without a default either comes from the file or is generated by azd (the secrets).
        foreach (var (name, parameter) in declared.Where(p => p.Value?["defaultValue"] is null))
        {
            var generated = parameter?["metadata"]?["azd"]?["type"].Str() == "generate";
            Assert.True(file.ContainsKey(name) || generated, $"Required parameter {name} is neither in main.parameters.json nor generated by azd.");
        }
    }

    [Fact]
    public void AzureYaml_DeploysTheFunctionsProject_AsTheGatewayFunctionService()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(RepositoryPaths.Root, "azure.yaml")))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var gateway = (YamlMappingNode)((YamlMappingNode)root["services"])["gateway"];
        var infra = (YamlMappingNode)root["infra"];

        Assert.Equal("function", gateway["host"].ToString());
        Assert.Equal("dotnet", gateway["language"].ToString());
        Assert.Equal("src/ServerlessGateway.Functions", gateway["project"].ToString().TrimStart('.', '/'));
        Assert.Equal("infra", infra["path"].ToString());
        Assert.Equal("bicep", infra["provider"].ToString());
    }

    private static IEnumerable<(string Name, string Value)> CredentialValues(JsonNode root)
    {
        foreach (var (name, value, parent) in root.Properties())
        {
            if (CredentialName().IsMatch(name))
            {
                var literal = value.Str() ?? value?["value"].Str() ?? value?["defaultValue"].Str();
                // Empty is "not set" (an optional key's default), never a credential.
                if (!string.IsNullOrEmpty(literal))
                {
                    yield return (name, literal);
                }
            }

            // App settings: { "name": "...Key", "value": "..." }.
            if (name == "value" && parent["name"].Str() is { } settingName && CredentialName().IsMatch(settingName) && value.Str() is { } settingValue)
            {
                yield return (settingName, settingValue);
            }
        }
    }

    [GeneratedRegex(@"(?i)(password|secret|key|token)s?$")]
    private static partial Regex CredentialName();

    [GeneratedRegex(@"(?i)^(min|minimum|scmMin)TlsVersion$")]
    private static partial Regex TlsVersionName();

    [GeneratedRegex(@"parameters\('(?<name>[^']+)'\)")]
    private static partial Regex ParameterReference();
}
