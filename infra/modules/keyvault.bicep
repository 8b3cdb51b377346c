// Key Vault in RBAC mode with purge protection. It holds the two values the gateway must not
// see in plain app settings: the first admin key and the key that encrypts HMAC secrets at rest.
// The Function App reads them through Key Vault references with its user-assigned identity.

@description('Key Vault name (3-24 letters, digits and hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Log Analytics workspace that receives the audit log.')
param logAnalyticsWorkspaceId string

@description('Days a deleted vault or secret stays recoverable. Purge protection keeps the name reserved for this long.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@secure()
@description('First admin key for the management API (X-Gateway-Admin-Key).')
param adminKey string

@secure()
@description('Key that encrypts HMAC secrets at rest: base64 of 32 bytes.')
param secretsKey string

var adminKeySecretName = 'gateway-admin-key'
var secretsKeySecretName = 'gateway-secrets-key'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: adminKeySecretName
  properties: {
    value: adminKey
    contentType: 'text/plain'
  }
}

resource secretsKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = {
  parent: vault
  name: secretsKeySecretName
  properties: {
    value: secretsKey
    contentType: 'application/octet-stream; base64'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
// Unversioned URIs: a Key Vault reference without a version follows the latest secret version.
output adminKeySecretUri string = adminKeySecret.properties.secretUri
output secretsKeySecretUri string = secretsKeySecret.properties.secretUri
