// ServerlessGateway on Azure: Flex Consumption Function App, Table Storage, Key Vault, monitoring,
// and Azure Front Door Premium with WAF in front. `azd up` deploys it (see docs/deploy-to-azure.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for everything except Front Door (global).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Principal ID of the deploying user or CI principal: gets table and Key Vault secret access for local runs against the cloud. Empty to skip.')
param principalId string = ''

@description('Type of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Resource group name; default rg-<environmentName>.')
param resourceGroupName string = ''

@secure()
@minLength(32)
@description('First admin key for the management API (X-Gateway-Admin-Key), stored in Key Vault. azd generates one on the first provision and keeps it in the environment.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 48
      noSpecial: true
    }
  }
})
param gatewayAdminKey string

@secure()
@minLength(32)
@maxLength(32)
@description('32 random characters whose UTF-8 bytes are the 256-bit key that encrypts HMAC secrets at rest (Gateway__Secrets__Key gets their base64). To rotate it, move the old value to gatewayPreviousSecretsKeyMaterial first: changed alone, secrets stored under the old key no longer decrypt.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
param gatewaySecretsKeyMaterial string

@secure()
@description('Second admin key (Gateway__Admin__Keys__1), accepted alongside gatewayAdminKey so the admin key can be rotated without locking clients out: set the new key here, move clients to it, make it gatewayAdminKey, then clear this. Empty: no second key. When set, at least 32 characters like gatewayAdminKey, which it is meant to become.')
param gatewaySecondAdminKey string = ''

@secure()
@maxLength(32)
@description('Only while rotating gatewaySecretsKeyMaterial: its previous value (32 characters, same encoding), so HMAC secrets stored under it still decrypt (Gateway__Secrets__PreviousKeys__0) until a publish re-encrypts them under the new key. Empty otherwise.')
param gatewayPreviousSecretsKeyMaterial string = ''

@description('Put Azure Front Door Premium with WAF in front (the app then accepts traffic only from it). Off: the app is reachable directly; cheap dev environments only.')
param enableFrontDoor bool = true

@description('Comma-separated CIDR ranges (for example 203.0.113.7/32) allowed to call the management API /_gateway/* through Front Door. Empty: nobody.')
param adminAllowedIpRanges string = ''

@description('Front Door WAF rate limit: requests per minute per client socket address.')
@minValue(10)
param wafRateLimitPerMinute int = 2000

@description('Custom domain for the Front Door endpoint (managed certificate); empty for none.')
param customDomainName string = ''

@description('Seconds Front Door waits for the gateway; above the gateway\'s own 60 s upstream timeout, so clients get the gateway\'s 504 problem+json rather than a Front Door error page.')
@minValue(16)
@maxValue(240)
param frontDoorOriginResponseTimeoutSeconds int = 120

@description('Seconds between Front Door health probes of /_gateway/health, per edge location.')
@minValue(5)
@maxValue(255)
param frontDoorHealthProbeIntervalSeconds int = 100

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption maximum instance count.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready HTTP instances: 0 scales to zero (no idle compute cost, cold starts); 1 or more are billed while idle.')
@minValue(0)
param alwaysReadyInstances int = 0

@description('Concurrent HTTP requests per instance.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 64

@description('Table name prefix (Gateway__TablePrefix).')
param tablePrefix string = 'Gateway'

@description('Registry poll interval in seconds (Gateway__ConfigRefreshSeconds).')
@minValue(1)
param configRefreshSeconds int = 5

@description('Table name suffixes created up front (the gateway creates missing tables and its rate-limit tables itself).')
param tableSuffixes array = [
  'Config'
]

@description('Integrate the Function App with a VNet for private backends.')
param enableVnetIntegration bool = false

@description('Bring your own subnet (delegated to Microsoft.App/environments) instead of the VNet this template creates.')
param existingAppSubnetId string = ''

@description('Address space of the created VNet.')
param vnetAddressPrefix string = '10.60.0.0/16'

@description('Address prefix of the created integration subnet.')
param appSubnetPrefix string = '10.60.0.0/24'

@description('Key Vault soft-delete retention in days (purge protection keeps the name reserved this long after deletion).')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var createVnet = enableVnetIntegration && empty(existingAppSubnetId)
var adminRanges = filter(map(split(adminAllowedIpRanges, ','), range => trim(range)), range => !empty(range))
// The rotation keys are optional, so @minLength cannot check them: fail() stops the deployment
// instead. A second admin key must be able to become gatewayAdminKey (@minLength(32)) later; a
// previous secrets key that is not 256 bits would stop the gateway from starting.
var secondAdminKey = empty(gatewaySecondAdminKey) || length(gatewaySecondAdminKey) >= 32
  ? gatewaySecondAdminKey
  : fail('gatewaySecondAdminKey must be empty or at least 32 characters long')
var previousSecretsKeyMaterial = empty(gatewayPreviousSecretsKeyMaterial) || length(gatewayPreviousSecretsKeyMaterial) == 32
  ? gatewayPreviousSecretsKeyMaterial
  : fail('gatewayPreviousSecretsKeyMaterial must be empty or exactly 32 characters long, like gatewaySecretsKeyMaterial')
var hasSecondAdminKey = !empty(secondAdminKey)
var hasPreviousSecretsKey = !empty(previousSecretsKeyMaterial)

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package-${take(functionAppName, 32)}'
    tableNames: [for suffix in tableSuffixes: '${tablePrefix}${suffix}']
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    adminKey: gatewayAdminKey
    secretsKey: base64(gatewaySecretsKeyMaterial)
    secondAdminKey: secondAdminKey
    hasSecondAdminKey: hasSecondAdminKey
    previousSecretsKey: base64(previousSecretsKeyMaterial)
    hasPreviousSecretsKey: hasPreviousSecretsKey
  }
}

module network 'modules/network.bicep' = if (createVnet) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
  }
}

module frontDoorProfile 'modules/frontdoor-profile.bicep' = if (enableFrontDoor) {
  name: 'frontdoor-profile'
  scope: rg
  params: {
    name: '${abbrs.cdnProfiles}${resourceToken}'
    tags: tags
    originResponseTimeoutSeconds: frontDoorOriginResponseTimeoutSeconds
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module wafPolicy 'modules/waf-policy.bicep' = if (enableFrontDoor) {
  name: 'waf-policy'
  scope: rg
  params: {
    name: '${abbrs.networkFrontDoorWebApplicationFirewallPolicies}${resourceToken}'
    tags: tags
    adminAllowedIpRanges: adminRanges
    rateLimitPerMinute: wafRateLimitPerMinute
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  dependsOn: [
    // The identity needs its storage, monitoring and Key Vault roles before the host first starts.
    roles
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    adminKeySecretUri: keyVault.outputs.adminKeySecretUri
    secretsKeySecretUri: keyVault.outputs.secretsKeySecretUri
    hasSecondAdminKey: hasSecondAdminKey
    secondAdminKeySecretUri: keyVault.outputs.secondAdminKeySecretUri
    hasPreviousSecretsKey: hasPreviousSecretsKey
    previousSecretsKeySecretUri: keyVault.outputs.previousSecretsKeySecretUri
    tablePrefix: tablePrefix
    configRefreshSeconds: configRefreshSeconds
    restrictToFrontDoor: enableFrontDoor
    frontDoorId: enableFrontDoor ? frontDoorProfile!.outputs.frontDoorId : ''
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyInstances
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    virtualNetworkSubnetId: !enableVnetIntegration
      ? ''
      : (createVnet ? network!.outputs.appSubnetId : existingAppSubnetId)
  }
}

module frontDoorRouting 'modules/frontdoor-routing.bicep' = if (enableFrontDoor) {
  name: 'frontdoor-routing'
  scope: rg
  params: {
    profileName: frontDoorProfile!.outputs.name
    endpointName: '${abbrs.cdnProfilesEndpoints}${resourceToken}'
    tags: tags
    originHostName: functionApp.outputs.defaultHostName
    wafPolicyId: wafPolicy!.outputs.id
    healthProbeIntervalSeconds: frontDoorHealthProbeIntervalSeconds
    customDomainName: customDomainName
  }
}

var functionAppUrl = 'https://${functionApp.outputs.defaultHostName}'
var frontDoorUrl = enableFrontDoor ? 'https://${frontDoorRouting!.outputs.endpointHostName}' : ''

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_URL string = functionAppUrl
output AZURE_FRONT_DOOR_ENDPOINT_URL string = frontDoorUrl
output GATEWAY_URL string = enableFrontDoor ? frontDoorUrl : functionAppUrl
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output GATEWAY_TABLE_PREFIX string = tablePrefix
output GATEWAY_ADMIN_KEY_SECRET_NAME string = 'gateway-admin-key'
output AZURE_FRONT_DOOR_CUSTOM_DOMAIN_VALIDATION_TOKEN string = enableFrontDoor
  ? frontDoorRouting!.outputs.customDomainValidationToken
  : ''
