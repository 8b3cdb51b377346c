// Azure Front Door Premium profile. Created before the Function App, whose access restriction
// needs the profile's frontDoorId; endpoint and routing come after the app (frontdoor-routing.bicep).

@description('Front Door profile name.')
param name string

@description('Tags for the resource.')
param tags object

@description('Seconds Front Door waits for the gateway to answer.')
@minValue(16)
@maxValue(240)
param originResponseTimeoutSeconds int

@description('Log Analytics workspace that receives access and WAF logs.')
param logAnalyticsWorkspaceId string

resource profile 'Microsoft.Cdn/profiles@2025-04-15' = {
  name: name
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    originResponseTimeoutSeconds: originResponseTimeoutSeconds
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: profile
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Health probe logs are left out: one line per probe from every edge location adds cost, not insight.
    logs: [
      {
        category: 'FrontDoorAccessLog'
        enabled: true
      }
      {
        category: 'FrontDoorWebApplicationFirewallLog'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = profile.id
output name string = profile.name
output frontDoorId string = profile.properties.frontDoorId
