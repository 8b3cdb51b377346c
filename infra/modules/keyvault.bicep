// Key Vault in RBAC mode with purge protection. It holds the values the gateway must not see in
// plain app settings: the first admin key and the key that encrypts HMAC secrets at rest, and while
// either is being rotated, a second admin key or the previous secrets key.
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

@secure()
@description('Second admin key, accepted alongside the first while the admin key is rotated; empty for none.')
param secondAdminKey string

@secure()
@description('Previous key that encrypted HMAC secrets at rest (base64 of 32 bytes), still used to decrypt while that key is rotated; empty for none.')
param previousSecretsKey string

// Whether those are set, passed on its own: a condition on a secure value is opaque to what-if and
// `bicep snapshot`, which then cannot say whether the secret would be created.
@description('Store secondAdminKey (true exactly when it is not empty).')
param hasSecondAdminKey bool

@description('Store previousSecretsKey (true exactly when it is not empty).')
param hasPreviousSecretsKey bool

var adminKeySecretName = 'gateway-admin-key'
var secretsKeySecretName = 'gateway-secrets-key'
var secondAdminKeySecretName = 'gateway-admin-key-2'
var previousSecretsKeySecretName = 'gateway-secrets-key-previous'

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

// The rotation secrets exist only while they are set. Clearing one leaves the secret in the vault
// (a deployment does not delete what it no longer declares) but the app no longer references it.
resource secondAdminKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (hasSecondAdminKey) {
  parent: vault
  name: secondAdminKeySecretName
  properties: {
    value: secondAdminKey
    contentType: 'text/plain'
  }
}

resource previousSecretsKeySecret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (hasPreviousSecretsKey) {
  parent: vault
  name: previousSecretsKeySecretName
  properties: {
    value: previousSecretsKey
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
// Empty when the secret is not stored.
output secondAdminKeySecretUri string = hasSecondAdminKey ? secondAdminKeySecret!.properties.secretUri : ''
output previousSecretsKeySecretUri string = hasPreviousSecretsKey ? previousSecretsKeySecret!.properties.secretUri : ''
