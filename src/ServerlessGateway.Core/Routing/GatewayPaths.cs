namespace ServerlessGateway.Routing;

/// <summary>Paths the gateway reserves for itself (DESIGN.md §5).</summary>
public static class GatewayPaths
{
    public const string ManagementPrefix = "/_gateway";

    /// <summary>Whether a path is the management prefix or under it (segment-wise, case-sensitive).</summary>
    public static bool IsManagement(string path) =>
        path.StartsWith(ManagementPrefix, StringComparison.Ordinal)
        && (path.Length == ManagementPrefix.Length || path[ManagementPrefix.Length] == '/');
}
