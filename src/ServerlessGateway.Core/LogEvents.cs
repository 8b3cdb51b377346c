namespace ServerlessGateway;

/// <summary>Every log event id of the gateway, in one place.</summary>
internal static class LogEvents
{
    public const int ConfigLoaded = 1000;
    public const int ConfigInvalid = 1001;
    public const int ConfigWarning = 1002;
    public const int DevelopmentSecretsKey = 1003;
    public const int RegistryLoaded = 1100;
    public const int RegistryUnavailable = 1101;
    public const int RegistryInvalidVersion = 1102;
    public const int RegistryPublished = 1103;
    public const int RegistryPollFailed = 1104;
    public const int AdminKeyRejected = 1200;
    public const int AdminAuthFailed = 1201;
    public const int AdminTokensDisabled = 1202;
    public const int OidcKeysFetched = 1500;
    public const int OidcKeysFetchFailed = 1501;
    public const int UpstreamAddressDenied = 2000;
    public const int UpstreamError = 2001;
    public const int CircuitBreakerOpened = 2002;
    public const int CircuitBreakerStateChanged = 2003;
    public const int UpstreamRetry = 2004;
    public const int RetryBudgetExhausted = 2005;
    public const int TargetHealthChanged = 2006;
    public const int ActiveProbeFailed = 2007;
    public const int TransformValueDropped = 2100;
    public const int TransformBodyUntouched = 2101;
    public const int ResponseBodyNotJson = 2102;
    public const int RateLimitNoStore = 2200;
    public const int RateLimitStoreUnavailable = 2201;
    public const int RateLimitStoreRecovered = 2202;
    public const int RateLimitDropFailed = 2203;
    public const int RateLimitStrictFallback = 2204;
    public const int RateLimitFlushFailed = 2205;
    public const int RateLimitLoopFailed = 2206;
    public const int GrpcResponseInvalid = 2300;
    public const int AccessLog = 3000;
}
