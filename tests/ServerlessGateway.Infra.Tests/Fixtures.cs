namespace ServerlessGateway.Infra.Tests;

/// <summary><c>bicep build infra/main.bicep --stdout</c>, once for the test class.</summary>
public sealed class CompiledTemplateFixture : IAsyncLifetime
{
    private ArmTemplate? _template;

    internal BicepResult? Build { get; private set; }

    internal ArmTemplate Template => _template ?? throw new InvalidOperationException(
        $"infra/main.bicep did not compile: {Build?.Describe() ?? "the Bicep CLI did not run"}");

    public async Task InitializeAsync()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            return;
        }

        Build = await BicepCli.RunAsync(RepositoryPaths.Root, "build", RepositoryPaths.MainBicep, "--stdout");
        if (Build.ExitCode == 0)
        {
            _template = new ArmTemplate(Build.StandardOutput);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>Production shape: Front Door on, admin ranges, a custom domain, a deploying user.</summary>
public sealed class FrontDoorDeploymentFixture : IAsyncLifetime
{
    public const string DeployerPrincipalId = "11111111-2222-3333-4444-555555555555";
    public const string AdminRanges = " 203.0.113.0/24, 2001:db8::/48 ,";
    public const string CustomDomain = "api.example.com";

    private DeploymentSnapshot? _snapshot;

    internal DeploymentSnapshot Snapshot => _snapshot ?? throw new InvalidOperationException("No snapshot on this platform.");

    public async Task InitializeAsync()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            return;
        }

        _snapshot = await DeploymentSnapshot.CreateAsync("frontdoor", new Dictionary<string, object>
        {
            ["environmentName"] = "infratest",
            ["location"] = DeploymentSnapshot.Location,
            ["principalId"] = DeployerPrincipalId,
            ["gatewayAdminKey"] = "placeholder-admin-key-for-offline-snapshot-only",
            ["gatewaySecretsKeyMaterial"] = "placeholder-32-characters-000000",
            ["adminAllowedIpRanges"] = AdminRanges,
            ["customDomainName"] = CustomDomain,
        });
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>Cheap dev shape: no Front Door, VNet integration on, no deploying user, one always-ready instance.</summary>
public sealed class DevDeploymentFixture : IAsyncLifetime
{
    private DeploymentSnapshot? _snapshot;

    internal DeploymentSnapshot Snapshot => _snapshot ?? throw new InvalidOperationException("No snapshot on this platform.");

    public async Task InitializeAsync()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            return;
        }

        _snapshot = await DeploymentSnapshot.CreateAsync("dev", new Dictionary<string, object>
        {
            ["environmentName"] = "infradev",
            ["location"] = DeploymentSnapshot.Location,
            ["gatewayAdminKey"] = "placeholder-admin-key-for-offline-snapshot-only",
            ["gatewaySecretsKeyMaterial"] = "placeholder-32-characters-000000",
            ["enableFrontDoor"] = false,
            ["enableVnetIntegration"] = true,
            ["alwaysReadyInstances"] = 1,
        });
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// Both keys being rotated: a second admin key and the previous secrets key material set. Snapshotted
/// from an <see cref="UnsecuredInfraCopy"/>, so the keys' values and the conditions on them are evaluated.
/// </summary>
public sealed class KeyRotationDeploymentFixture : IAsyncLifetime
{
    public const string SecondAdminKey = "second-admin-key-for-offline-snapshot-0001";
    public const string PreviousSecretsKeyMaterial = "previous-32-characters-000000000";

    /// <summary>The rotation parameters, in main.bicep and where they arrive in the Key Vault module.</summary>
    internal static readonly (string File, string Parameter)[] RotationParameters =
    [
        ("main.bicep", "gatewaySecondAdminKey"),
        ("main.bicep", "gatewayPreviousSecretsKeyMaterial"),
        ("modules/keyvault.bicep", "secondAdminKey"),
        ("modules/keyvault.bicep", "previousSecretsKey"),
    ];

    private DeploymentSnapshot? _snapshot;

    internal DeploymentSnapshot Snapshot => _snapshot ?? throw new InvalidOperationException("No snapshot on this platform.");

    /// <summary>The production shape's required parameters plus <paramref name="rotation"/>.</summary>
    internal static Dictionary<string, object> Parameters(IReadOnlyDictionary<string, object> rotation)
    {
        var parameters = new Dictionary<string, object>
        {
            ["environmentName"] = "infrarotate",
            ["location"] = DeploymentSnapshot.Location,
            ["gatewayAdminKey"] = "placeholder-admin-key-for-offline-snapshot-only",
            ["gatewaySecretsKeyMaterial"] = "placeholder-32-characters-000000",
        };
        foreach (var (name, value) in rotation)
        {
            parameters[name] = value;
        }

        return parameters;
    }

    public async Task InitializeAsync()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            return;
        }

        using var infra = UnsecuredInfraCopy.Create(RotationParameters);
        _snapshot = await DeploymentSnapshot.CreateAsync("rotation", Parameters(new Dictionary<string, object>
        {
            ["gatewaySecondAdminKey"] = SecondAdminKey,
            ["gatewayPreviousSecretsKeyMaterial"] = PreviousSecretsKeyMaterial,
        }), infra);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
