using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using ServerlessGateway.Runtime;
using Yarp.ReverseProxy.Forwarder;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// Shapes the upstream request and the client response around YARP's header copying: the canonical
/// upstream URI, Host per preserve_host, hop-by-hop headers including every header named in
/// <c>Connection</c> (RFC 9110 §7.6.1; YARP forwards those), identity headers a client must not
/// forge, and <c>X-Forwarded-*</c> (believed from trusted proxies only).
/// </summary>
internal sealed class GatewayTransformer : HttpTransformer
{
    public static readonly GatewayTransformer Instance = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        var feature = httpContext.Features.GetRequiredFeature<GatewayRequestFeature>();
        proxyRequest.RequestUri = feature.UpstreamUri;
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        var request = httpContext.Request;
        var route = feature.Match.Route;
        var service = route.Service!;
        proxyRequest.Headers.Host = route.Config.PreserveHost ? request.Host.Value : service.HostHeader;

        RemoveConnectionListed(request.Headers.Connection, proxyRequest);
        RemoveClientIdentityHeaders(request.Headers, proxyRequest);
        AddIdentityHeaders(feature, proxyRequest);
        SetForwardedHeaders(httpContext, feature, proxyRequest);
        proxyRequest.Options.Set(UpstreamTimeouts.OptionKey, service.Timeouts);
        if (service.Tls is { } tls)
        {
            proxyRequest.Options.Set(UpstreamTls.OptionKey, tls);
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null)
        {
            httpContext.Features.GetRequiredFeature<GatewayRequestFeature>().UpstreamHeadersTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is not null)
        {
            foreach (var token in proxyResponse.Headers.Connection)
            {
                if (!IsConnectionOption(token))
                {
                    httpContext.Response.Headers.Remove(token);
                }
            }

            var feature = httpContext.Features.GetRequiredFeature<GatewayRequestFeature>();

            // Kong's header_filter / body_filter (e.g. response-transformer), only when such plugins were selected.
            if (copy && feature.ResponsePlugins is { } plugins)
            {
                await Plugins.ResponsePhase.OnUpstreamResponseAsync(httpContext, plugins, proxyResponse, cancellationToken);
            }

            if (copy && feature.CountBodies && proxyResponse.Content.Headers.ContentLength is null)
            {
                // A chunked body: count what streams through for the access log (content headers are copied already).
                var counter = new Observability.CountingStream(await proxyResponse.Content.ReadAsStreamAsync(cancellationToken));
                feature.ResponseBodyCounter = counter;
                proxyResponse.Content = new StreamContent(counter);
            }
        }

        return copy;
    }

    private static void RemoveConnectionListed(Microsoft.Extensions.Primitives.StringValues connection, HttpRequestMessage proxyRequest)
    {
        foreach (var value in connection)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var range in value.AsSpan().Split(','))
            {
                var token = value.AsSpan()[range].Trim();
                if (token.Length == 0 || IsConnectionOption(token))
                {
                    continue;
                }

                var name = token.ToString();
                if (!proxyRequest.Headers.Remove(name))
                {
                    proxyRequest.Content?.Headers.Remove(name);
                }
            }
        }
    }

    /// <summary>Connection options rather than header names; "upgrade" is left to YARP's WebSocket handling.</summary>
    private static bool IsConnectionOption(ReadOnlySpan<char> token) =>
        token.Equals("close", StringComparison.OrdinalIgnoreCase)
        || token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
        || token.Equals("upgrade", StringComparison.OrdinalIgnoreCase);

    private static void RemoveClientIdentityHeaders(IHeaderDictionary headers, HttpRequestMessage proxyRequest)
    {
        List<string>? remove = null;
        foreach (var name in headers.Keys)
        {
            if (IsIdentityHeader(name))
            {
                (remove ??= []).Add(name);
            }
        }

        if (remove is null)
        {
            return;
        }

        foreach (var name in remove)
        {
            proxyRequest.Headers.Remove(name);
        }
    }

    /// <summary>Kong's identity headers for the backend, set only from what authentication established.</summary>
    private static void AddIdentityHeaders(GatewayRequestFeature feature, HttpRequestMessage proxyRequest)
    {
        var headers = proxyRequest.Headers;
        if (feature.Consumer is { } consumer)
        {
            headers.TryAddWithoutValidation("X-Consumer-ID", consumer.Id);
            if (consumer.Username is not null)
            {
                headers.TryAddWithoutValidation("X-Consumer-Username", consumer.Username);
            }

            if (consumer.CustomId is not null)
            {
                headers.TryAddWithoutValidation("X-Consumer-Custom-ID", consumer.CustomId);
            }
        }

        if (feature.CredentialIdentifier is { } credential && !feature.Anonymous)
        {
            headers.TryAddWithoutValidation("X-Credential-Identifier", credential);
        }

        if (feature.Anonymous)
        {
            headers.TryAddWithoutValidation("X-Anonymous-Consumer", "true");
        }

        if (feature.UpstreamHeaders is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                headers.Remove(name);
                headers.TryAddWithoutValidation(name, value);
            }
        }
    }

    /// <summary>Headers that assert an identity the gateway establishes (DESIGN.md §2): never from a client.</summary>
    internal static bool IsIdentityHeader(string name) =>
        name.StartsWith("X-Consumer-", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("X-Authenticated-", StringComparison.OrdinalIgnoreCase)
        || name.Equals("X-Credential-Identifier", StringComparison.OrdinalIgnoreCase)
        || name.Equals("X-Anonymous-Consumer", StringComparison.OrdinalIgnoreCase)
        || name.Equals("X-Gateway-Admin-Key", StringComparison.OrdinalIgnoreCase);

    private static void SetForwardedHeaders(HttpContext httpContext, GatewayRequestFeature feature, HttpRequestMessage proxyRequest)
    {
        var request = httpContext.Request;
        var headers = proxyRequest.Headers;
        var trusted = feature.PeerIsTrustedProxy;
        var peer = httpContext.Connection.RemoteIpAddress;
        var peerText = peer is null ? null : (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();

        headers.Remove("X-Forwarded-For");
        var incomingFor = request.Headers["X-Forwarded-For"].ToString();
        if (trusted && incomingFor.Length > 0)
        {
            headers.TryAddWithoutValidation("X-Forwarded-For", peerText is null ? incomingFor : $"{incomingFor}, {peerText}");
        }
        else if (peerText is not null)
        {
            headers.TryAddWithoutValidation("X-Forwarded-For", peerText);
        }

        SetTrustedOrOwn(headers, request.Headers, trusted, "X-Forwarded-Proto", request.Scheme);
        SetTrustedOrOwn(headers, request.Headers, trusted, "X-Forwarded-Host", request.Host.Value ?? "");
        SetTrustedOrOwn(headers, request.Headers, trusted, "X-Forwarded-Port",
            (request.Host.Port ?? httpContext.Connection.LocalPort).ToString(CultureInfo.InvariantCulture));

        headers.Remove("X-Forwarded-Prefix");
        var match = feature.Match;
        if (match.Route.Config.StripPath && match.MatchedLength > 0)
        {
            // Kong: the prefix stripped from the path, so the backend can rebuild its public URLs.
            headers.TryAddWithoutValidation("X-Forwarded-Prefix", feature.Path[..match.MatchedLength]);
        }
        else if (trusted && request.Headers["X-Forwarded-Prefix"].ToString() is { Length: > 0 } prefix)
        {
            headers.TryAddWithoutValidation("X-Forwarded-Prefix", prefix);
        }

        headers.Remove("X-Forwarded-Path");
        headers.TryAddWithoutValidation("X-Forwarded-Path", feature.Path);
        headers.Remove("X-Real-IP");
        if (feature.ClientAddress is { } client)
        {
            headers.TryAddWithoutValidation("X-Real-IP", client.ToString());
        }
    }

    private static void SetTrustedOrOwn(System.Net.Http.Headers.HttpRequestHeaders headers, IHeaderDictionary incoming, bool trusted, string name, string own)
    {
        headers.Remove(name);
        var value = trusted ? incoming[name].ToString() : "";
        headers.TryAddWithoutValidation(name, value.Length > 0 ? value : own);
    }
}
