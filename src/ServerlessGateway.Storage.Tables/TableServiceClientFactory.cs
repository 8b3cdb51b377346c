using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Builds the <see cref="TableServiceClient"/> from <c>GatewayStorage</c> the way Azure Functions reads its
/// connections (https://learn.microsoft.com/azure/azure-functions/functions-reference#configure-an-identity-based-connection):
/// a value is a connection string; otherwise <c>GatewayStorage:tableServiceUri</c> with a token credential.
/// </summary>
internal static class TableServiceClientFactory
{
    public const string ConnectionKey = "GatewayStorage";
    public const string ServiceUriKey = ConnectionKey + ":tableServiceUri";
    public const string ClientIdKey = ConnectionKey + ":clientId";
    public const string CredentialKey = ConnectionKey + ":credential";

    /// <summary>
    /// Per try, and tries per call: a registry poll or health check against unreachable storage fails
    /// within about 3 x 5 s instead of hanging on the SDK defaults (6 tries, 100 s each).
    /// </summary>
    public static readonly TimeSpan NetworkTimeout = TimeSpan.FromSeconds(5);

    public const int MaxRetries = 2;

    /// <summary>The client, or null when <c>GatewayStorage</c> is not configured.</summary>
    /// <exception cref="InvalidOperationException">A value is malformed; the message names its key and never echoes a secret.</exception>
    public static TableServiceClient? Create(IConfiguration configuration)
    {
        var section = configuration.GetSection(ConnectionKey);
        var connectionString = section.Value;
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            TableServiceClient client;
            try
            {
                client = new TableServiceClient(connectionString, CreateOptions());
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
            {
                // The inner exception is left out on purpose: parser messages may quote parts of the string, key included.
                throw MalformedConnectionString(ex.GetType().Name);
            }

            return client.Uri.Scheme is "https" or "http" ? client : throw MalformedConnectionString("TableEndpoint is not an http(s) URI");
        }

        var serviceUri = section["tableServiceUri"];
        if (string.IsNullOrWhiteSpace(serviceUri))
        {
            return null;
        }

        if (!Uri.TryCreate(serviceUri, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(uri.Query))
        {
            // Tokens are only sent over TLS; a query would be a SAS, which belongs in a connection string.
            throw new InvalidOperationException(
                $"{ServiceUriKey} (environment: GatewayStorage__tableServiceUri) must be an absolute https URI without a query, " +
                "such as https://<account>.table.core.windows.net.");
        }

        return new TableServiceClient(uri, CreateCredential(section["clientId"], section["credential"]), CreateOptions());
    }

    private static InvalidOperationException MalformedConnectionString(string reason) => new(
        $"{ConnectionKey} is not a valid Table Storage connection string ({reason}). Expected e.g. " +
        "'UseDevelopmentStorage=true' or 'DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net', " +
        $"or leave it empty and set {ServiceUriKey} (environment: GatewayStorage__tableServiceUri) for a managed identity.");

    /// <summary>
    /// A user-assigned managed identity when <c>clientId</c> is set; the system-assigned one for
    /// <c>credential=managedidentity</c>; else <see cref="DefaultAzureCredential"/> (developer sign-in locally).
    /// </summary>
    public static TokenCredential CreateCredential(string? clientId, string? credential)
    {
        if (!string.IsNullOrWhiteSpace(clientId))
        {
            if (!Guid.TryParse(clientId, out _))
            {
                throw new InvalidOperationException($"{ClientIdKey} (environment: GatewayStorage__clientId) must be the client id (a GUID) of a user-assigned managed identity.");
            }

            return new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        if (string.Equals(credential, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            return new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
        }

        return new DefaultAzureCredential();
    }

    public static TableClientOptions CreateOptions()
    {
        var options = new TableClientOptions();
        options.Retry.Mode = Azure.Core.RetryMode.Exponential;
        options.Retry.MaxRetries = MaxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = NetworkTimeout;
        options.Diagnostics.ApplicationId = "ServerlessGateway";
        return options;
    }
}
