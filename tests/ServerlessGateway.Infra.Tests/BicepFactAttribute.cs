namespace ServerlessGateway.Infra.Tests;

/// <summary>A fact that needs the Bicep CLI binary, which NuGet ships here for linux-x64 only.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BicepFactAttribute : FactAttribute
{
    public BicepFactAttribute()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            Skip = BicepCli.UnsupportedPlatformReason;
        }
    }
}

/// <summary>A theory that needs the Bicep CLI binary, which NuGet ships here for linux-x64 only.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BicepTheoryAttribute : TheoryAttribute
{
    public BicepTheoryAttribute()
    {
        if (!BicepCli.IsSupportedPlatform)
        {
            Skip = BicepCli.UnsupportedPlatformReason;
        }
    }
}
