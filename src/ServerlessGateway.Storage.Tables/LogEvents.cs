namespace ServerlessGateway.Storage.Tables;

/// <summary>Every log event id of the Table Storage adapters (block 3000-3099), in one place.</summary>
internal static class LogEvents
{
    public const int TableReady = 3000;
    public const int TableCreateDenied = 3001;
    public const int ConfigPublished = 3002;
    public const int ConfigPublishConflict = 3003;
    public const int ConfigPublishLandedOnRetry = 3004;
    public const int AttemptCleanupFailed = 3005;
    public const int HistoryWriteFailed = 3006;
    public const int ConfigIntegrityFailed = 3007;
    public const int RateLimitTableCreated = 3008;
    public const int RateLimitTableDropped = 3009;
    public const int RateLimitContention = 3010;
    public const int RateLimitTableRecreated = 3011;
}
