using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Registry;
using ServerlessGateway.Storage.Tables.Tests.Infrastructure;
using ServerlessGateway.Testing;

namespace ServerlessGateway.Storage.Tables.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class TablesServiceCollectionExtensionsTests(AzuriteServer azurite)
{
    [Fact(Timeout = 30_000)]
    public async Task ConnectionString_RegistersATableStoreInPlaceOfTheInMemoryOne()
    {
        var names = TestStores.NewNames();
        var services = NewServices();
        services.AddSingleton<IConfigStore, InMemoryConfigStore>();

        var added = services.AddServerlessGatewayTables(Configuration(("GatewayStorage", azurite.ConnectionString), ("Gateway:TablePrefix", names.Prefix)));

        Assert.True(added);
        Assert.Single(services, d => d.ServiceType == typeof(IConfigStore));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var store = Assert.IsType<TableConfigStore>(provider.GetRequiredService<IConfigStore>());
        Assert.Equal(names.Config, store.TableName);
        var head = await store.PublishAsync(null, "{}", TestStores.Change(), CancellationToken.None);
        // What landed is visible to any other client of the same table.
        Assert.Equal("{}", await TestStores.Create(azurite.ConnectionString, names).ReadAsync(head.Version, CancellationToken.None));
        Assert.Equal(azurite.TableEndpoint.Port, provider.GetRequiredService<TableServiceClient>().Uri.Port);
    }

    [Fact(Timeout = 30_000)]
    public async Task ConnectionString_RegistersTheTableRateLimitStore_CountingTransactionsWhenMetricsAreThere()
    {
        var names = TestStores.NewNames();
        using var recorder = new TransactionRecorder();
        var services = NewServices();
        services.AddSingleton(recorder.Metrics);

        services.AddServerlessGatewayTables(Configuration(("GatewayStorage", azurite.ConnectionString), ("Gateway:TablePrefix", names.Prefix)));

        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var store = Assert.IsType<TableRateLimitStore>(provider.GetRequiredService<IRateLimitStore>());
        Assert.Equal(1, await store.HeartbeatAsync("a", TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal([names.Prefix + "RlInstances"], await TestStores.TableNamesAsync(azurite.ConnectionString, names));
        Assert.Equal(
            new Dictionary<string, int> { ["create_table"] = 1, ["heartbeat"] = 1, ["query"] = 1 },
            recorder.ByOperation(TableTransactionCounter.RateLimitStore));
    }

    [Fact]
    public void RateLimitStore_WithoutGatewayMetrics_StillResolves()
    {
        var services = NewServices();
        services.AddServerlessGatewayTables(Configuration(("GatewayStorage", "UseDevelopmentStorage=true")));

        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        Assert.IsType<TableRateLimitStore>(provider.GetRequiredService<IRateLimitStore>());
    }

    [Fact]
    public void DevelopmentStorage_IsTheEmulatorAccountAndTheDefaultPrefix()
    {
        var services = NewServices();

        Assert.True(services.AddServerlessGatewayTables(Configuration(("GatewayStorage", "UseDevelopmentStorage=true"))));

        using var provider = services.BuildServiceProvider();
        Assert.Equal("devstoreaccount1", provider.GetRequiredService<TableServiceClient>().AccountName);
        Assert.Equal("GatewayConfig", provider.GetRequiredService<TableConfigStore>().TableName);
    }

    [Fact]
    public void TableServiceUri_RegistersAClientForThatAccount()
    {
        var services = NewServices();

        Assert.True(services.AddServerlessGatewayTables(Configuration(
            ("GatewayStorage:tableServiceUri", "https://contoso.table.core.windows.net"),
            ("GatewayStorage:clientId", "6e1f0c36-5d4b-4a0e-9d0f-0a4c2a1b3c4d"))));

        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<TableServiceClient>();
        Assert.Equal("contoso.table.core.windows.net", client.Uri.Host);
        Assert.Equal("contoso", client.AccountName);
        Assert.IsType<TableConfigStore>(provider.GetRequiredService<IConfigStore>());
    }

    [Fact]
    public void TableServiceUri_FromEnvironmentStyleKeys_IsRead()
    {
        var services = NewServices();
        // Environment variables GatewayStorage__tableServiceUri arrive as GatewayStorage:tableServiceUri, in any case.
        Assert.True(services.AddServerlessGatewayTables(Configuration(("GATEWAYSTORAGE:TABLESERVICEURI", "https://contoso.table.core.windows.net/"))));
    }

    [Fact]
    public void Credential_WithClientId_IsThatUserAssignedManagedIdentity_ElseDefaultAzureCredential()
    {
        Assert.IsType<ManagedIdentityCredential>(TableServiceClientFactory.CreateCredential("6e1f0c36-5d4b-4a0e-9d0f-0a4c2a1b3c4d", null));
        Assert.IsType<ManagedIdentityCredential>(TableServiceClientFactory.CreateCredential(null, "managedidentity"));
        Assert.IsType<DefaultAzureCredential>(TableServiceClientFactory.CreateCredential(null, null));
        Assert.IsType<DefaultAzureCredential>(TableServiceClientFactory.CreateCredential(" ", null));
    }

    [Fact]
    public void NothingConfigured_ReturnsFalseAndRegistersNothing()
    {
        var services = NewServices();
        var before = services.Count;

        Assert.False(services.AddServerlessGatewayTables(Configuration(("GatewayStorage", ""), ("Gateway:TablePrefix", "Other"))));

        Assert.Equal(before, services.Count);
    }

    [Theory]
    [InlineData("this is not a connection string")]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=c2VjcmV0LWtleQ==;TableEndpoint=::not a uri::")]
    [InlineData("AccountKey=c2VjcmV0LWtleQ==")]
    [InlineData("AccountName=contoso;AccountKey=c2VjcmV0LWtleQ==;TableEndpoint=ftp://contoso")]
    public void MalformedConnectionString_FailsNamingGatewayStorageWithoutEchoingIt(string connectionString)
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => NewServices().AddServerlessGatewayTables(Configuration(("GatewayStorage", connectionString))));

        Assert.StartsWith("GatewayStorage ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0LWtleQ", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(connectionString, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not a uri")]
    [InlineData("contoso.table.core.windows.net")]
    [InlineData("http://contoso.table.core.windows.net")]
    [InlineData("https://contoso.table.core.windows.net/?sv=2024&sig=secret")]
    public void MalformedTableServiceUri_FailsNamingTheKey(string uri)
    {
        var error = Assert.Throws<InvalidOperationException>(
            () => NewServices().AddServerlessGatewayTables(Configuration(("GatewayStorage:tableServiceUri", uri))));

        Assert.Contains("GatewayStorage:tableServiceUri", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedClientId_FailsNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() => NewServices().AddServerlessGatewayTables(Configuration(
            ("GatewayStorage:tableServiceUri", "https://contoso.table.core.windows.net"), ("GatewayStorage:clientId", "my-identity"))));

        Assert.Contains("GatewayStorage:clientId", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1Gateway")]
    [InlineData("gate-way")]
    [InlineData("ThisPrefixIsFarTooLongForATableNameX")]
    public void InvalidTablePrefix_FailsNamingTheKey(string prefix)
    {
        var error = Assert.Throws<InvalidOperationException>(() => NewServices().AddServerlessGatewayTables(Configuration(
            ("GatewayStorage", "UseDevelopmentStorage=true"), ("Gateway:TablePrefix", prefix))));

        Assert.Contains("Gateway:TablePrefix", error.Message, StringComparison.Ordinal);
    }

    private static ServiceCollection NewServices()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        return services;
    }

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build();
}
