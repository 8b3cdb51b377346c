using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Authentication;

/// <summary>
/// Kong's rules shared by every authentication plugin: preflight requests skip it unless
/// <c>run_on_preflight</c>; with <c>anonymous</c> set, a request another plugin already authenticated
/// skips it, and a failure authenticates the anonymous consumer instead of rejecting (so several
/// authentication plugins become alternatives); without it, every one must pass.
/// </summary>
internal static class AuthenticationOutcome
{
    public static bool ShouldSkip(GatewayContext context, string? anonymous, bool runOnPreflight) =>
        (!runOnPreflight && IsPreflight(context.Http.Request))
        || (anonymous is not null && context.Request.Authenticated);

    public static bool IsPreflight(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) && request.Headers.Origin.Count > 0
        && request.Headers.ContainsKey("Access-Control-Request-Method");

    public static PluginResult Succeed(GatewayContext context, ConsumerConfig consumer, string credentialIdentifier)
    {
        context.Request.Consumer = consumer;
        context.Request.CredentialIdentifier = credentialIdentifier;
        context.Request.Anonymous = false;
        return PluginResult.Continue;
    }

    /// <summary>The failure, or the anonymous consumer when one is configured.</summary>
    public static PluginResult Fail(GatewayContext context, string? anonymous, PluginResult failure)
    {
        if (anonymous is null)
        {
            return failure;
        }

        var consumer = context.Consumers.Find(anonymous);
        if (consumer is null)
        {
            // Validated at import; a snapshot without it is a bug, not the client's fault.
            return PluginResult.Reject(StatusCodes.Status500InternalServerError, "the anonymous consumer of this route does not exist");
        }

        context.Request.Consumer = consumer;
        context.Request.CredentialIdentifier = null;
        context.Request.Anonymous = true;
        return PluginResult.Continue;
    }
}
