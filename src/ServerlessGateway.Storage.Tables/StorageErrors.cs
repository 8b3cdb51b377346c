using Azure;

namespace ServerlessGateway.Storage.Tables;

/// <summary>Reading the service's error answers the same way in every adapter.</summary>
internal static class StorageErrors
{
    /// <summary>The table itself is missing (not an entity of it): deleted, never created, or an emulator restarted.</summary>
    public static bool IsTableNotFound(RequestFailedException ex) =>
        ex.Status == 404 && string.Equals(ex.ErrorCode, "TableNotFound", StringComparison.Ordinal);
}
