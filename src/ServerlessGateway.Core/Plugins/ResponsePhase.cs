using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Plugins;

/// <summary>
/// Kong's header_filter and body_filter phases: the plugins selected for a request that have one are
/// recorded on <see cref="GatewayRequestFeature.ResponsePlugins"/> (allocated only when there are such
/// plugins) and run in priority order on the response. Kong runs them on the upstream's response and on
/// a response a plugin or the gateway produced instead (kong.response.exit, errors); so does this gateway
/// for headers, while the gateway's own problem+json bodies are never edited.
/// </summary>
internal static class ResponsePhase
{
    public static void Collect(GatewayRequestFeature feature, GatewayPlugin plugin)
    {
        if (plugin.HasResponsePhase)
        {
            (feature.ResponsePlugins ??= []).Add(plugin);
        }
    }

    /// <summary>
    /// <paramref name="step"/> answered or rejected the request: Kong still collects the plugins after it
    /// (their access phase is skipped) and runs their response phases on that answer.
    /// </summary>
    public static void CollectAfter(GatewayRequestFeature feature, PluginChain.Step[] steps, PluginChain.Step step)
    {
        for (var i = Array.IndexOf(steps, step) + 1; i < steps.Length; i++)
        {
            if (steps[i].Select(feature.Consumer) is { } plugin)
            {
                Collect(feature, plugin);
            }
        }
    }

    /// <summary>For a response the gateway writes itself: header edits run just before its headers are sent.</summary>
    public static void OnGatewayResponse(HttpContext context, GatewayRequestFeature feature)
    {
        if (feature.ResponsePlugins is not null && !context.Response.HasStarted)
        {
            context.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                ApplyHeaders(http, http.Features.GetRequiredFeature<GatewayRequestFeature>().ResponsePlugins!);
                return Task.CompletedTask;
            }, context);
        }
    }

    /// <summary>For the upstream's response, once YARP copied its headers: every header phase, then every body phase.</summary>
    public static async ValueTask OnUpstreamResponseAsync(HttpContext context, List<GatewayPlugin> plugins, HttpResponseMessage upstream, CancellationToken cancellationToken)
    {
        ApplyHeaders(context, plugins);
        foreach (var plugin in plugins)
        {
            await plugin.TransformResponseBodyAsync(context, upstream, cancellationToken);
        }
    }

    private static void ApplyHeaders(HttpContext context, List<GatewayPlugin> plugins)
    {
        foreach (var plugin in plugins)
        {
            plugin.TransformResponseHeaders(context);
        }
    }
}
