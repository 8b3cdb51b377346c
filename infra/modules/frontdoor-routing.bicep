// Front Door endpoint, origin group, origin (the Function App), route, optional custom domain,
// and the security policy that puts the WAF policy in front of all of them.

@description('Name of the existing Front Door profile.')
param profileName string

@description('Endpoint name (part of the *.azurefd.net host name).')
param endpointName string

@description('Tags for the resources.')
param tags object

@description('Host name of the Function App (the origin).')
param originHostName string

@description('Resource ID of the WAF policy.')
param wafPolicyId string

@description('Seconds between health probes from each Front Door edge location.')
@minValue(5)
@maxValue(255)
param healthProbeIntervalSeconds int

@description('Custom domain (for example api.contoso.com) with a Front Door managed certificate; empty for none.')
param customDomainName string

var hasCustomDomain = !empty(customDomainName)

resource profile 'Microsoft.Cdn/profiles@2025-04-15' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2025-04-15' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2025-04-15' = {
  parent: profile
  name: 'gateway'
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    // HEAD keeps probes cheap; the health endpoint checks storage at most every 10 s however
    // many edge locations probe it.
    healthProbeSettings: {
      probePath: '/_gateway/health'
      probeRequestType: 'HEAD'
      probeProtocol: 'Https'
      probeIntervalInSeconds: healthProbeIntervalSeconds
    }
    sessionAffinityState: 'Disabled'
  }
}

resource origin 'Microsoft.Cdn/profiles/originGroups/origins@2025-04-15' = {
  parent: originGroup
  name: 'function-app'
  properties: {
    hostName: originHostName
    originHostHeader: originHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

resource customDomain 'Microsoft.Cdn/profiles/customDomains@2025-04-15' = if (hasCustomDomain) {
  parent: profile
  name: replace(customDomainName, '.', '-')
  properties: {
    hostName: customDomainName
    tlsSettings: {
      certificateType: 'ManagedCertificate'
      minimumTlsVersion: 'TLS12'
    }
  }
}

// HTTPS only, in and out. No HTTP->HTTPS redirect: for an API the redirected request has
// already sent its credentials in clear text, so plain HTTP is refused instead. No caching.
resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2025-04-15' = {
  parent: endpoint
  name: 'gateway'
  dependsOn: [
    origin
  ]
  properties: {
    originGroup: {
      id: originGroup.id
    }
    customDomains: hasCustomDomain ? [{ id: customDomain.id }] : []
    supportedProtocols: [
      'Https'
    ]
    patternsToMatch: [
      '/*'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Disabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
  }
}

resource securityPolicy 'Microsoft.Cdn/profiles/securityPolicies@2025-04-15' = {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: {
        id: wafPolicyId
      }
      associations: [
        {
          domains: concat([{ id: endpoint.id }], hasCustomDomain ? [{ id: customDomain.id }] : [])
          patternsToMatch: [
            '/*'
          ]
        }
      ]
    }
  }
}

output endpointHostName string = endpoint.properties.hostName
output customDomainValidationToken string = hasCustomDomain
  ? customDomain!.properties.validationProperties.validationToken
  : ''
