using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Authentication;

/// <summary>
/// Kong's <c>key-auth</c> (https://docs.konghq.com/hub/kong-inc/key-auth/): an API key from a header or
/// the query string, looked up by its SHA-256 (keys are never stored in plain). <c>key_in_body</c>
/// is accepted at its default (false) only: reading keys from bodies would buffer every body.
/// </summary>
internal sealed class KeyAuthPlugin(PluginConfig config, KeyAuthPlugin.Options options) : GatewayPlugin(config)
{
    private const string Challenge = "Key realm=\"kong\"";

    internal sealed record Options(string[] KeyNames, bool KeyInHeader, bool KeyInQuery, bool HideCredentials, string? Anonymous, bool RunOnPreflight);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "key-auth";

        public override bool IsAuthentication => true;

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new KeyAuthPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), null));

        private static Options Read(MapReader config, PluginValidationContext? context)
        {
            var keyNames = config.Has("key_names") ? config.StringList("key_names") : ["apikey"];
            if (keyNames.Count == 0)
            {
                config.Error("key_names", "at least one key name is required");
            }

            foreach (var name in keyNames)
            {
                if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c is ':' or '(' or ')' or ',' or '/' or ';' or '=' or '"'))
                {
                    config.Error("key_names", $"'{name}' is not a valid header or query parameter name");
                }
            }

            var anonymous = config.String("anonymous");
            if (anonymous is not null && context is not null && !context.ConsumerExists(anonymous))
            {
                config.Error("anonymous", $"no consumer '{anonymous}'");
            }

            var options = new Options(
                [.. keyNames],
                config.Bool("key_in_header", true),
                config.Bool("key_in_query", true),
                config.Bool("hide_credentials", false),
                anonymous,
                config.Bool("run_on_preflight", true));
            config.KongDefault("key_in_body", "false", "reading keys from request bodies is not supported");
            config.KongDefault("realm", "null", "the realm is always \"kong\"");
            config.Finish();
            return options;
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        if (AuthenticationOutcome.ShouldSkip(context, options.Anonymous, options.RunOnPreflight))
        {
            return ValueTask.FromResult(PluginResult.Continue);
        }

        var request = context.Http.Request;
        string? key = null;
        string? foundIn = null;
        foreach (var name in options.KeyNames)
        {
            if (options.KeyInHeader && request.Headers.TryGetValue(name, out var headerValues) && headerValues.Count > 0)
            {
                if (headerValues.Count > 1)
                {
                    return ValueTask.FromResult(Fail(context, "Duplicate API key found"));
                }

                key = headerValues[0];
                foundIn = "header:" + name;
                break;
            }

            if (options.KeyInQuery && request.Query.TryGetValue(name, out var queryValues) && queryValues.Count > 0)
            {
                if (queryValues.Count > 1)
                {
                    return ValueTask.FromResult(Fail(context, "Duplicate API key found"));
                }

                key = queryValues[0];
                foundIn = "query:" + name;
                break;
            }
        }

        if (string.IsNullOrEmpty(key))
        {
            return ValueTask.FromResult(Fail(context, "No API key found in request"));
        }

        if (!context.Consumers.TryGetKeyAuth(CredentialProtector.HashKey(key), out var consumer, out var credential))
        {
            return ValueTask.FromResult(Fail(context, "Invalid authentication credentials"));
        }

        if (options.HideCredentials)
        {
            Hide(context, foundIn!);
        }

        return ValueTask.FromResult(AuthenticationOutcome.Succeed(context, consumer, credential.Id));
    }

    private PluginResult Fail(GatewayContext context, string detail) =>
        AuthenticationOutcome.Fail(context, options.Anonymous, PluginResult.Reject(StatusCodes.Status401Unauthorized, detail, Challenge));

    /// <summary>hide_credentials: the key never reaches the backend.</summary>
    private static void Hide(GatewayContext context, string foundIn)
    {
        var name = foundIn[(foundIn.IndexOf(':') + 1)..];
        if (foundIn.StartsWith("header:", StringComparison.Ordinal))
        {
            context.Http.Request.Headers.Remove(name);
            return;
        }

        var query = QueryHelpers.ParseQuery(context.Request.Query);
        query.Remove(name);
        var rebuilt = QueryString.Create(query.SelectMany(p => p.Value.Select(v => new KeyValuePair<string, string?>(p.Key, v))));
        context.Request.Query = rebuilt.HasValue ? rebuilt.Value! : "";
    }
}
