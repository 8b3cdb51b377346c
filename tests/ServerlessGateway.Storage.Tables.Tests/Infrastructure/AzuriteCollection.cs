using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests.Infrastructure;

/// <summary>One Azurite for the tests that do not stop it; each test isolates itself with its own table prefix.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteServer>
{
    public const string Name = "Azurite";
}
