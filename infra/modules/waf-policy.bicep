// WAF policy for the Front Door endpoint, in Prevention mode.
// Custom rules run first, in priority order, and stop at the first Allow or Block:
//    50 block dot-segments (/./, /../): the host normalizes them, so they could walk around 100-300;
//   100 block the Functions host's own /admin and /runtime paths (never the gateway's);
//   200 let the admin IP ranges reach the management API (disabled when no range is given);
//   300 block the management API /_gateway/* for everyone else, except GET /_gateway/health;
//   400 rate-limit each client socket address, a coarse first line before the gateway's own limits.
// Then Microsoft's Default Rule Set 2.1 and Bot Manager 1.1 inspect what is left.
// Rule 200 skipping the managed rule sets is deliberate: a declarative config document carries
// regex paths and $(...) templates that DRS reads as injection attempts.

@description('WAF policy name (letters and digits only).')
param name string

@description('Tags for the resource.')
param tags object

@description('CIDR ranges (socket addresses, not X-Forwarded-For) allowed to call /_gateway/*. Empty: nobody through Front Door.')
param adminAllowedIpRanges array

@description('Requests one client socket address may send per minute before Front Door blocks it.')
@minValue(10)
param rateLimitPerMinute int

// RequestUri is the full URL (scheme, host, path, query), after UrlDecode and Lowercase transforms.
// The host's routing is case-insensitive, hence Lowercase; '/+' covers doubled slashes.
var uriPrefix = '^(https?://[^/]+)?/+'

var customRules = [
  {
    name: 'BlockDotSegments'
    enabledState: 'Enabled'
    priority: 50
    ruleType: 'MatchRule'
    action: 'Block'
    matchConditions: [
      {
        matchVariable: 'RequestUri'
        operator: 'RegEx'
        negateCondition: false
        matchValue: [
          '^[^?#]*/\\.{1,2}([/?#]|$)'
        ]
        transforms: [
          'UrlDecode'
        ]
      }
    ]
  }
  {
    name: 'BlockHostReservedPaths'
    enabledState: 'Enabled'
    priority: 100
    ruleType: 'MatchRule'
    action: 'Block'
    matchConditions: [
      {
        matchVariable: 'RequestUri'
        operator: 'RegEx'
        negateCondition: false
        matchValue: [
          '${uriPrefix}(admin|runtime)([/?#]|$)'
        ]
        transforms: [
          'UrlDecode'
          'Lowercase'
        ]
      }
    ]
  }
  {
    name: 'AllowManagementFromAdminRanges'
    // An IPMatch condition needs at least one value: with no range the rule stays, disabled,
    // on a documentation-only address.
    enabledState: empty(adminAllowedIpRanges) ? 'Disabled' : 'Enabled'
    priority: 200
    ruleType: 'MatchRule'
    action: 'Allow'
    matchConditions: [
      {
        matchVariable: 'SocketAddr'
        operator: 'IPMatch'
        negateCondition: false
        matchValue: empty(adminAllowedIpRanges) ? ['192.0.2.0/32'] : adminAllowedIpRanges
      }
      {
        matchVariable: 'RequestUri'
        operator: 'RegEx'
        negateCondition: false
        matchValue: [
          '${uriPrefix}_gateway([/?#]|$)'
        ]
        transforms: [
          'UrlDecode'
          'Lowercase'
        ]
      }
    ]
  }
  {
    name: 'BlockManagementApi'
    enabledState: 'Enabled'
    priority: 300
    ruleType: 'MatchRule'
    action: 'Block'
    matchConditions: [
      {
        matchVariable: 'RequestUri'
        operator: 'RegEx'
        negateCondition: false
        matchValue: [
          '${uriPrefix}_gateway([/?#]|$)'
        ]
        transforms: [
          'UrlDecode'
          'Lowercase'
        ]
      }
      {
        matchVariable: 'RequestUri'
        operator: 'RegEx'
        negateCondition: true
        matchValue: [
          '${uriPrefix}_gateway/health/?([?#]|$)'
        ]
        transforms: [
          'UrlDecode'
          'Lowercase'
        ]
      }
    ]
  }
  {
    name: 'RateLimitPerClient'
    enabledState: 'Enabled'
    priority: 400
    ruleType: 'RateLimitRule'
    action: 'Block'
    rateLimitDurationInMinutes: 1
    rateLimitThreshold: rateLimitPerMinute
    groupBy: [
      {
        variableName: 'SocketAddr'
      }
    ]
    matchConditions: [
      {
        matchVariable: 'SocketAddr'
        operator: 'IPMatch'
        negateCondition: false
        matchValue: [
          '0.0.0.0/0'
          '::/0'
        ]
      }
    ]
  }
]

resource policy 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2024-02-01' = {
  name: name
  location: 'Global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    policySettings: {
      enabledState: 'Enabled'
      mode: 'Prevention'
      requestBodyCheck: 'Enabled'
      customBlockResponseStatusCode: 403
    }
    customRules: {
      rules: customRules
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'Microsoft_DefaultRuleSet'
          ruleSetVersion: '2.1'
          ruleSetAction: 'Block'
        }
        {
          ruleSetType: 'Microsoft_BotManagerRuleSet'
          ruleSetVersion: '1.1'
          ruleSetAction: 'Block'
        }
      ]
    }
  }
}

output id string = policy.id
