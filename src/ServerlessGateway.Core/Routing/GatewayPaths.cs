namespace ServerlessGateway.Routing;

/// <summary>Paths the gateway reserves for itself (DESIGN.md §5).</summary>
public static class GatewayPaths
{
    public const string ManagementPrefix = "/_gateway";
}
