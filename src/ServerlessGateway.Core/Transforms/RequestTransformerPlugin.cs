using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Transforms;

/// <summary>
/// Kong's <c>request-transformer</c> (https://docs.konghq.com/hub/kong-inc/request-transformer/):
/// <c>remove</c>, <c>rename</c>, <c>replace</c>, <c>add</c>, <c>append</c> on headers and the query
/// string in that order, <c>replace.uri</c> and <c>http_method</c>. <c>add</c> sets only absent names,
/// <c>replace</c> only present ones, <c>append</c> always adds another value. Values are templates
/// compiled once per snapshot and rendered against the request as it arrived at this plugin.
/// Body operations apply to top-level keys of JSON objects, form-urlencoded and multipart/form-data bodies; the
/// body is buffered only when the plugin has body operations and the content type is one of these, or when
/// <c>http_method</c> GET, HEAD or TRACE moves a form body into the query (Kong's transform_method).
/// </summary>
internal sealed partial class RequestTransformerPlugin(PluginConfig config, RequestTransformerPlugin.Options options, ILogger logger) : GatewayPlugin(config)
{
    internal sealed record Entry(string Name, TransformTemplate Value);

    internal sealed record Operations(string[] Remove, (string From, string To)[] Rename, Entry[] Replace, Entry[] Add, Entry[] Append)
    {
        public bool IsEmpty => Remove.Length + Rename.Length + Replace.Length + Add.Length + Append.Length == 0;
    }

    internal sealed record Options(Operations Headers, Operations Query, Operations Body, TransformTemplate? Uri, string? HttpMethod);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "request-transformer";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context.Errors);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new RequestTransformerPlugin(
                plugin,
                Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), []),
                runtime.Loggers.CreateLogger<RequestTransformerPlugin>());

        internal static Options Read(MapReader config, List<ConfigIssue> errors)
        {
            var sections = new Dictionary<string, MapReader?>(StringComparer.Ordinal);
            foreach (var section in new[] { "remove", "rename", "replace", "add", "append" })
            {
                var node = config.Get(section);
                sections[section] = node is null || node.Kind == ConfigNodeKind.Null ? null : MapReader.Open(node, config.At(section), errors);
            }

            var headers = ReadOperations(sections, "headers", isHeader: true);
            var query = ReadOperations(sections, "querystring", isHeader: false);
            var body = ReadOperations(sections, "body", isHeader: false);

            TransformTemplate? uri = null;
            if (sections["replace"] is { } replace && replace.String("uri") is { } uriSource)
            {
                uri = TransformTemplate.Compile(uriSource, out var error);
                if (uri is null)
                {
                    replace.Error("uri", error!);
                }
                else if (uri.Literal is { } literal && (!literal.StartsWith('/') || !IsValidUpstreamPath(literal)))
                {
                    replace.Error("uri", "must be an absolute path ('/...') of valid URI path characters");
                }
            }

            var method = config.String("http_method");
            if (method is not null && (method.Length == 0 || !method.All(char.IsAsciiLetterUpper)))
            {
                config.Error("http_method", $"'{method}' is not an HTTP method (upper-case letters, as Kong)");
            }

            foreach (var (name, section) in sections)
            {
                if (section is null)
                {
                    continue;
                }

                if (name is "replace" or "add" or "append")
                {
                    section.KongDefault("json_types", "[]", "body values are always strings");
                }

                section.Finish();
            }

            config.Finish();
            return new Options(headers, query, body, uri, method);
        }

        private static Operations ReadOperations(Dictionary<string, MapReader?> sections, string field, bool isHeader)
        {
            var remove = new List<string>();
            var rename = new List<(string, string)>();
            var replace = new List<Entry>();
            var add = new List<Entry>();
            var append = new List<Entry>();
            if (sections["remove"] is { } removeSection)
            {
                foreach (var name in removeSection.StringList(field))
                {
                    if (CheckName(removeSection, field, name, isHeader))
                    {
                        remove.Add(name);
                    }
                }
            }

            if (sections["rename"] is { } renameSection)
            {
                foreach (var entry in renameSection.StringList(field))
                {
                    var colon = entry.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0 || colon == entry.Length - 1)
                    {
                        renameSection.Error(field, $"'{entry}' is not 'old:new'");
                        continue;
                    }

                    var (from, to) = (entry[..colon], entry[(colon + 1)..]);
                    if (CheckName(renameSection, field, from, isHeader) && CheckName(renameSection, field, to, isHeader))
                    {
                        rename.Add((from, to));
                    }
                }
            }

            ReadEntries(sections["replace"], field, isHeader, replace);
            ReadEntries(sections["add"], field, isHeader, add);
            ReadEntries(sections["append"], field, isHeader, append);
            return new Operations([.. remove], [.. rename], [.. replace], [.. add], [.. append]);
        }

        private static void ReadEntries(MapReader? section, string field, bool isHeader, List<Entry> into)
        {
            if (section is null)
            {
                return;
            }

            foreach (var entry in section.StringList(field))
            {
                // Kong splits at the first ':' (the value may hold more, e.g. a URL).
                var colon = entry.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    section.Error(field, $"'{entry}' is not 'name:value'");
                    continue;
                }

                var name = entry[..colon];
                if (!CheckName(section, field, name, isHeader))
                {
                    continue;
                }

                var template = TransformTemplate.Compile(entry[(colon + 1)..], out var error);
                if (template is null)
                {
                    section.Error(field, $"'{name}': {error}");
                    continue;
                }

                if (isHeader && template.Literal is { } literal && !IsHeaderValue(literal))
                {
                    section.Error(field, $"'{name}': the value contains CR, LF or another character a header cannot carry");
                    continue;
                }

                into.Add(new Entry(name, template));
            }
        }

        private static bool CheckName(MapReader section, string field, string name, bool isHeader)
        {
            if (!isHeader)
            {
                if (name.Length == 0)
                {
                    section.Error(field, "an empty parameter name");
                    return false;
                }

                return true;
            }

            if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".Contains(c, StringComparison.Ordinal)))
            {
                section.Error(field, $"'{name}' is not a valid header name");
                return false;
            }

            // The upstream Host comes from the service (or preserve_host); editing it here is not built.
            if (name.Equals("host", StringComparison.OrdinalIgnoreCase))
            {
                section.Error(field, "the Host header cannot be transformed by this gateway (use the route's preserve_host or the service host)");
                return false;
            }

            return true;
        }
    }

    /// <summary>Visible ASCII, space and tab: what HttpClient sends unchanged and no header injection can hide in.</summary>
    internal static bool IsHeaderValue(string value) => value.All(c => c is '\t' or (>= ' ' and < (char)127));

    private static bool IsValidUpstreamPath(string path)
    {
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (char.IsAsciiLetterOrDigit(c) || "-._~!$&'()*+,;=:@/".Contains(c, StringComparison.Ordinal))
            {
                continue;
            }

            if (c == '%' && i + 2 < path.Length && char.IsAsciiHexDigit(path[i + 1]) && char.IsAsciiHexDigit(path[i + 2]))
            {
                continue;
            }

            return false;
        }

        return true;
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        // Kong renders every value against the request as it arrived here, before any edit of this plugin.
        var headerValues = Render(context, options.Headers);
        var queryValues = Render(context, options.Query);
        var bodyValues = Render(context, options.Body);
        var uri = options.Uri?.Render(context);
        var kind = KindOf(context.Http.Request.ContentType);

        // Kong's transform_method: a form body also goes into the query when the method becomes GET, HEAD or TRACE.
        var formToQuery = kind == BodyKind.Form && options.HttpMethod is "GET" or "HEAD" or "TRACE";

        if (!options.Headers.IsEmpty)
        {
            TransformHeaders(context, headerValues);
        }

        if (uri is not null)
        {
            context.Request.UpstreamPathOverride = EncodePath(uri);
        }

        if (options.HttpMethod is { } method)
        {
            context.Http.Request.Method = method;
        }

        if ((bodyValues is null || kind == BodyKind.None) && !formToQuery)
        {
            if (!options.Query.IsEmpty)
            {
                TransformQuery(context, QueryEditor.Parse(context.Request.Query), queryValues);
            }

            return ValueTask.FromResult(PluginResult.Continue);
        }

        return TransformBodyAsync(context, kind, bodyValues, queryValues, formToQuery);
    }

    private enum BodyKind { None, Json, Form, Multipart }

    private static BodyKind KindOf(string? contentType)
    {
        var mediaType = contentType.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        mediaType = (semicolon < 0 ? mediaType : mediaType[..semicolon]).Trim();
        if (mediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return BodyKind.Form;
        }

        if (mediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return BodyKind.Multipart;
        }

        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase) ? BodyKind.Json : BodyKind.None;
    }

    /// <summary>
    /// Buffers the body (only here: body operations on a content type they apply to, or a form body moving into the
    /// query), then in Kong's order moves form fields into the query, edits the query, edits the body and forwards it.
    /// </summary>
    private async ValueTask<PluginResult> TransformBodyAsync(GatewayContext context, BodyKind kind, string[][]? bodyValues, string[][]? queryValues, bool formToQuery)
    {
        var request = context.Http.Request;
        using var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, context.Http.RequestAborted);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            // Kestrel's own limits (MaxRequestBodySize: 413) or a malformed body.
            return PluginResult.Reject(e.StatusCode, "the request body could not be read: " + e.Message);
        }
        catch (IOException) when (context.Request.RequestBodyTooLarge)
        {
            // request-size-limiting (which runs earlier) stopped the body at its limit while we buffered it.
            return PluginResult.Reject(Microsoft.AspNetCore.Http.StatusCodes.Status413PayloadTooLarge, RequestGuards.RequestSizeLimitingPlugin.TooLarge);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            return PluginResult.Reject(Microsoft.AspNetCore.Http.StatusCodes.Status400BadRequest, "the request body could not be read from the client");
        }

        // The buffer's array outlives the MemoryStream (disposing it frees nothing): the forwarded body reads slices of it.
        var original = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
        var query = QueryEditor.Parse(context.Request.Query);
        var fields = formToQuery ? QueryEditor.Parse("?" + Encoding.UTF8.GetString(original.Span)) : [];
        if (fields.Count > 0)
        {
            // The body itself still goes upstream, as Kong leaves it in place.
            QueryEditor.Merge(query, fields);
            context.Request.Query = QueryEditor.Build(query);
        }

        if (!options.Query.IsEmpty)
        {
            TransformQuery(context, query, queryValues);
        }

        List<ReadOnlyMemory<byte>> body = [original];
        if (bodyValues is not null)
        {
            switch (kind)
            {
                case BodyKind.Json:
                    body = [RequestBodyEditor.EditJson(original.ToArray(), options.Body, bodyValues) ?? original];
                    break;
                case BodyKind.Form:
                    body = [RequestBodyEditor.EditForm(original.ToArray(), options.Body, bodyValues)];
                    break;
                case BodyKind.Multipart:
                    body = EditMultipart(context, original, bodyValues) ?? body;
                    break;
            }
        }

        long length = 0;
        foreach (var segment in body)
        {
            length += segment.Length;
        }

        request.Body = new SegmentedReadStream(body);
        request.Headers.Remove("Transfer-Encoding");
        request.ContentLength = length;
        if (length > 0 && context.Http.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true })
        {
            // `add` on an empty body (Kong adds to it): the forwarder sends a body only when the server says there is one.
            context.Http.Features.Set<IHttpRequestBodyDetectionFeature>(HasBody.Instance);
        }

        return PluginResult.Continue;
    }

    private sealed class HasBody : IHttpRequestBodyDetectionFeature
    {
        public static readonly HasBody Instance = new();

        public bool CanHaveBody => true;
    }

    /// <summary>The edited multipart body, or null to forward it unchanged (no boundary, malformed, nothing changed).</summary>
    private List<ReadOnlyMemory<byte>>? EditMultipart(GatewayContext context, ReadOnlyMemory<byte> original, string[][] values)
    {
        if (MultipartBodyEditor.Boundary(context.Http.Request.ContentType) is not { } boundary)
        {
            LogMultipartUntouched(logger, "the Content-Type has no valid boundary", context.Request.RequestId);
            return null;
        }

        var dropped = new List<string>();
        var edited = MultipartBodyEditor.Edit(original, boundary, options.Body, values, dropped, out var malformed);
        foreach (var name in dropped)
        {
            LogValueDropped(logger, name, context.Request.RequestId);
        }

        if (malformed)
        {
            LogMultipartUntouched(logger, "it is not well-formed multipart (RFC 2046 delimiters or part headers)", context.Request.RequestId);
        }

        return edited;
    }

    private static string[][]? Render(GatewayContext context, Operations operations) => operations.IsEmpty
        ? null
        : [RenderAll(context, operations.Replace), RenderAll(context, operations.Add), RenderAll(context, operations.Append)];

    private static string[] RenderAll(GatewayContext context, Entry[] entries)
    {
        if (entries.Length == 0)
        {
            return [];
        }

        var values = new string[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            values[i] = entries[i].Value.Render(context);
        }

        return values;
    }

    private void TransformHeaders(GatewayContext context, string[][]? values)
    {
        var headers = context.Http.Request.Headers;
        var ops = options.Headers;
        HeaderEdits.RemoveThenRename(headers, ops.Remove, ops.Rename);

        for (var i = 0; i < ops.Replace.Length; i++)
        {
            if (headers.ContainsKey(ops.Replace[i].Name) && Safe(context, ops.Replace[i].Name, values![0][i]))
            {
                headers[ops.Replace[i].Name] = values[0][i];
            }
        }

        for (var i = 0; i < ops.Add.Length; i++)
        {
            if (!headers.ContainsKey(ops.Add[i].Name) && Safe(context, ops.Add[i].Name, values![1][i]))
            {
                headers[ops.Add[i].Name] = values[1][i];
            }
        }

        for (var i = 0; i < ops.Append.Length; i++)
        {
            var name = ops.Append[i].Name;
            if (Safe(context, name, values![2][i]))
            {
                headers[name] = headers.TryGetValue(name, out var existing)
                    ? Microsoft.Extensions.Primitives.StringValues.Concat(existing, values[2][i])
                    : values[2][i];
            }
        }
    }

    /// <summary>A rendered value (e.g. from a claim or another header) that a header cannot carry is dropped, never sent.</summary>
    private bool Safe(GatewayContext context, string name, string value)
    {
        if (IsHeaderValue(value))
        {
            return true;
        }

        LogValueDropped(logger, name, context.Request.RequestId);
        return false;
    }

    private void TransformQuery(GatewayContext context, List<KeyValuePair<string, string?>> query, string[][]? values)
    {
        QueryEditor.Apply(query, options.Query, values!);
        context.Request.Query = QueryEditor.Build(query);
    }

    /// <summary>A rendered replace.uri as an upstream path: absolute, characters outside a URI path percent-encoded.</summary>
    private static string EncodePath(string uri)
    {
        var builder = new StringBuilder(uri.Length + 1);
        if (!uri.StartsWith('/'))
        {
            builder.Append('/');
        }

        foreach (var b in Encoding.UTF8.GetBytes(uri))
        {
            var c = (char)b;
            if (b < 128 && (char.IsAsciiLetterOrDigit(c) || "-._~!$&'()*+,;=:@/%".Contains(c, StringComparison.Ordinal)))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = LogEvents.TransformValueDropped, Level = LogLevel.Warning,
        Message = "request-transformer dropped {Field}: its rendered value contains characters a header cannot carry, or the multipart boundary of the body (request {RequestId})")]
    private static partial void LogValueDropped(ILogger logger, string field, string requestId);

    [LoggerMessage(EventId = LogEvents.TransformBodyUntouched, Level = LogLevel.Information,
        Message = "request-transformer forwarded a multipart body unchanged: {Reason} (request {RequestId})")]
    private static partial void LogMultipartUntouched(ILogger logger, string reason, string requestId);
}
