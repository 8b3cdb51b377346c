using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.RequestGuards;

/// <summary>
/// Kong's <c>request-size-limiting</c> (https://docs.konghq.com/hub/kong-inc/request-size-limiting/):
/// a Content-Length over the limit is answered 413 (417 with <c>Expect: 100-continue</c>, as Kong)
/// before anything is forwarded. Kong buffers a body without Content-Length to measure it; here it
/// streams through <see cref="SizeLimitedStream"/>, which fails before handing the backend a byte past
/// the limit, and the pipeline answers 413.
/// </summary>
internal sealed class RequestSizeLimitingPlugin(PluginConfig config, RequestSizeLimitingPlugin.Options options) : GatewayPlugin(config)
{
    internal const string TooLarge = "Request size limit exceeded";

    internal sealed record Options(long AllowedBytes, bool RequireContentLength);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "request-size-limiting";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new RequestSizeLimitingPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", [])));

        internal static Options Read(MapReader config)
        {
            var size = config.Int("allowed_payload_size", 128, 1, int.MaxValue);
            var unit = config.String("size_unit") ?? "megabytes";
            long multiplier = unit switch
            {
                "megabytes" => 1024 * 1024,
                "kilobytes" => 1024,
                "bytes" => 1,
                _ => 0,
            };
            if (multiplier == 0)
            {
                config.Error("size_unit", "expected one of: megabytes, kilobytes, bytes");
            }

            var options = new Options(size * multiplier, config.Bool("require_content_length", false));
            config.Finish();
            return options;
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var request = context.Http.Request;
        if (request.ContentLength is { } length)
        {
            if (length <= options.AllowedBytes)
            {
                // Kestrel enforces the declared length, so the body cannot grow past it.
                return ValueTask.FromResult(PluginResult.Continue);
            }

            var status = request.Headers.Expect.ToString().Equals("100-continue", StringComparison.OrdinalIgnoreCase)
                ? StatusCodes.Status417ExpectationFailed
                : StatusCodes.Status413PayloadTooLarge;
            return ValueTask.FromResult(PluginResult.Reject(status, TooLarge));
        }

        if (context.Http.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true })
        {
            return ValueTask.FromResult(PluginResult.Continue);
        }

        if (options.RequireContentLength)
        {
            return ValueTask.FromResult(PluginResult.Reject(StatusCodes.Status411LengthRequired, "A valid Content-Length header is required"));
        }

        request.Body = new SizeLimitedStream(request.Body, options.AllowedBytes, context.Request);
        return ValueTask.FromResult(PluginResult.Continue);
    }
}
