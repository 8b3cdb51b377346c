// Flex Consumption plan and the gateway's Function App (.NET 10 isolated worker).
// Everything authenticates with the user-assigned identity: host storage, the gateway's tables,
// Application Insights ingestion and the Key Vault references. No connection string, no key.

@description('Function App name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the resources.')
param tags object

@description('Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Client ID of that identity.')
param identityClientId string

@description('Storage account name (host storage and gateway tables).')
param storageAccountName string

@description('Blob container URL for the deployment package.')
param deploymentContainerUrl string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Key Vault secret URI (unversioned) of the first admin key.')
param adminKeySecretUri string

@description('Key Vault secret URI (unversioned) of the HMAC secret encryption key.')
param secretsKeySecretUri string

// While a key is being rotated, its second secret. Whether there is one comes as its own parameter:
// a condition on a secret URI (known only after deployment) is opaque to what-if and `bicep snapshot`.
@description('Reference the second admin key (Gateway__Admin__Keys__1): the admin key is being rotated.')
param hasSecondAdminKey bool

@description('Key Vault secret URI (unversioned) of the second admin key; empty without one.')
param secondAdminKeySecretUri string

@description('Reference the previous HMAC secret encryption key (Gateway__Secrets__PreviousKeys__0): that key is being rotated.')
param hasPreviousSecretsKey bool

@description('Key Vault secret URI (unversioned) of the previous HMAC secret encryption key; empty without one.')
param previousSecretsKeySecretUri string

@description('Table name prefix (Gateway__TablePrefix).')
param tablePrefix string

@description('Seconds between registry polls (Gateway__ConfigRefreshSeconds).')
@minValue(1)
param configRefreshSeconds int

@description('Accept traffic only from this Front Door profile (access restriction + X-Azure-FDID check).')
param restrictToFrontDoor bool

@description('The Front Door profile\'s frontDoorId (Gateway__FrontDoorId); empty when there is no Front Door.')
param frontDoorId string

@description('Instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Maximum instance count (Flex Consumption allows 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances for HTTP functions; 0 scales to zero (cheapest, cold starts).')
@minValue(0)
param alwaysReadyHttpInstances int

@description('HTTP requests one instance handles concurrently.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int

@description('Subnet for outbound VNet integration; empty for none.')
param virtualNetworkSubnetId string

// Without VNet integration a private address can only be something on the platform's own network,
// so the SSRF guard keeps private ranges closed unless the app is integrated with a VNet.
var allowPrivateNetworks = !empty(virtualNetworkSubnetId)

// Front Door is the only way in: the service tag alone would admit every Front Door profile of
// every tenant, so the rule also requires this profile's X-Azure-FDID.
var frontDoorRestrictions = [
  {
    name: 'AllowThisFrontDoor'
    description: 'Only this Front Door profile may reach the app.'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: {
      'x-azure-fdid': [
        frontDoorId
      ]
    }
  }
]

// Written out as a literal list: the host reads them at start, so they ship with the site itself.
var appSettings = [
  // Host storage with the user-assigned identity (identity-based AzureWebJobsStorage).
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'AzureWebJobsDisableHomepage'
    value: 'true'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  // The gateway's own settings (DESIGN.md section 5).
  {
    name: 'GatewayStorage__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'GatewayStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'GatewayStorage__clientId'
    value: identityClientId
  }
  {
    name: 'Gateway__TablePrefix'
    value: tablePrefix
  }
  {
    name: 'Gateway__ConfigRefreshSeconds'
    value: string(configRefreshSeconds)
  }
  {
    name: 'Gateway__Admin__Keys__0'
    value: '@Microsoft.KeyVault(SecretUri=${adminKeySecretUri})'
  }
  {
    name: 'Gateway__Secrets__Key'
    value: '@Microsoft.KeyVault(SecretUri=${secretsKeySecretUri})'
  }
  {
    name: 'Gateway__Upstreams__AllowLoopback'
    value: 'false'
  }
  {
    name: 'Gateway__Upstreams__AllowLinkLocal'
    value: 'false'
  }
  {
    name: 'Gateway__Upstreams__AllowPrivateNetworks'
    value: allowPrivateNetworks ? 'true' : 'false'
  }
  {
    name: 'Gateway__FrontDoorId'
    value: frontDoorId
  }
]

// Present only while a key is being rotated: an empty admin key would be refused, and an empty
// previous secrets key would stop the gateway from starting.
var rotationSettings = [
  ...(!hasSecondAdminKey
    ? []
    : [
        {
          name: 'Gateway__Admin__Keys__1'
          value: '@Microsoft.KeyVault(SecretUri=${secondAdminKeySecretUri})'
        }
      ])
  ...(!hasPreviousSecretsKey
    ? []
    : [
        {
          name: 'Gateway__Secrets__PreviousKeys__0'
          value: '@Microsoft.KeyVault(SecretUri=${previousSecretsKeySecretUri})'
        }
      ])
]

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'gateway' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyHttpInstances == 0
          ? []
          : [
              {
                name: 'http'
                instanceCount: alwaysReadyHttpInstances
              }
            ]
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      ipSecurityRestrictions: restrictToFrontDoor ? frontDoorRestrictions : []
      ipSecurityRestrictionsDefaultAction: restrictToFrontDoor ? 'Deny' : 'Allow'
      // The SCM site keeps its own (open) rules so `azd deploy` works; basic auth is off below,
      // so it only accepts Entra ID tokens.
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: 'Allow'
      appSettings: [
        ...appSettings
        ...rotationSettings
      ]
    }
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-11-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
