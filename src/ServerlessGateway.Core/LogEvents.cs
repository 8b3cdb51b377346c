namespace ServerlessGateway;

/// <summary>Every log event id of the gateway, in one place.</summary>
internal static class LogEvents
{
    public const int ConfigLoaded = 1000;
    public const int ConfigInvalid = 1001;
    public const int ConfigWarning = 1002;
    public const int UpstreamAddressDenied = 2000;
    public const int UpstreamError = 2001;
    public const int RegexTimeout = 2002;
}
