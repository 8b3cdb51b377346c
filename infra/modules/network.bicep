// Optional VNet for outbound integration, so the gateway can reach private backends.
// Flex Consumption integrates through a subnet delegated to Microsoft.App/environments.

@description('Virtual network name.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object

@description('Address space of the virtual network.')
param addressPrefix string

@description('Address prefix of the subnet the Function App integrates with (at least /27; /24 leaves room to scale out).')
param appSubnetPrefix string

resource vnet 'Microsoft.Network/virtualNetworks@2024-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }
}

output id string = vnet.id
output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'app')
