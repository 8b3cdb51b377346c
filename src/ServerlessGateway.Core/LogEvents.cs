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
    public const int TransformValueDropped = 2100;
    public const int TransformBodyUntouched = 2101;
    public const int ResponseBodyNotJson = 2102;
    public const int GrpcResponseInvalid = 2200;
    public const int AccessLog = 3000;
}
