using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Authentication;
using ServerlessGateway.Configuration;
using ServerlessGateway.Observability;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Transforms;

/// <summary>
/// Kong's <c>response-transformer</c> (https://docs.konghq.com/hub/kong-inc/response-transformer/):
/// <c>remove</c>, <c>rename</c>, <c>replace</c>, <c>add</c>, <c>append</c> on response headers and JSON
/// body keys in that order, <c>json_types</c> for typed JSON values. Our extensions: JSON paths in
/// <c>remove.json</c>/<c>replace.json</c>, and <c>max_body_size</c>: only JSON bodies up to it are
/// buffered and edited; larger, non-JSON and compressed bodies stream through untouched (counted in
/// <see cref="GatewayMetrics.ResponseBodiesPassedThrough"/>).
/// </summary>
internal sealed partial class ResponseTransformerPlugin(PluginConfig config, ResponseTransformerPlugin.Options options, GatewayMetrics metrics, ILogger logger)
    : GatewayPlugin(config)
{
    public const int DefaultMaxBodySize = 1024 * 1024;
    private const int MaxMaxBodySize = 64 * 1024 * 1024;
    private const int InitialBuffer = 16 * 1024;

    internal sealed record HeaderOperations(
        string[] Remove, (string From, string To)[] Rename, KeyValuePair<string, string>[] Replace,
        KeyValuePair<string, string>[] Add, KeyValuePair<string, string>[] Append)
    {
        public bool IsEmpty => Remove.Length + Rename.Length + Replace.Length + Add.Length + Append.Length == 0;
    }

    /// <summary>A top-level key, or (for remove.json and replace.json) a JSON path.</summary>
    internal sealed record JsonTarget(string Key, JsonPath? Path);

    /// <summary>A key or path with its typed value (Kong's json_types), materialized afresh for every edit.</summary>
    internal sealed record JsonEntry(string Key, JsonPath? Path, JsonElement Value)
    {
        public JsonNode? NewValue() => JsonValue.Create(Value);
    }

    internal sealed record JsonOperations(JsonTarget[] Remove, (string From, string To)[] Rename, JsonEntry[] Replace, JsonEntry[] Add, JsonEntry[] Append)
    {
        public bool IsEmpty => Remove.Length + Rename.Length + Replace.Length + Add.Length + Append.Length == 0;
    }

    internal sealed record Options(HeaderOperations Headers, JsonOperations Json, int MaxBodySize);

    internal sealed class Definition : PluginDefinition
    {
        private static readonly string[] Sections = ["remove", "rename", "replace", "add", "append"];

        /// <summary>Headers that say how the response is delimited or the connection managed: a wrong value breaks the client's parsing.</summary>
        private static readonly FrozenSet<string> FramingHeaders = new[]
        {
            "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Trailer",
        }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

        public override string Name => "response-transformer";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context.Errors);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new ResponseTransformerPlugin(
                plugin,
                Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), []),
                runtime.Services.GetRequiredService<GatewayMetrics>(),
                runtime.Loggers.CreateLogger<ResponseTransformerPlugin>());

        internal static Options Read(MapReader config, List<ConfigIssue> errors)
        {
            var sections = new Dictionary<string, MapReader?>(StringComparer.Ordinal);
            foreach (var name in Sections)
            {
                var node = config.Get(name);
                sections[name] = node is null || node.Kind == ConfigNodeKind.Null ? null : MapReader.Open(node, config.At(name), errors);
            }

            var headers = new HeaderOperations(
                [.. Items(sections["remove"], "headers", errors).Where(i => CheckHeaderName(i.Text, i.Path, errors, setsValue: false)).Select(i => i.Text)],
                [.. Items(sections["rename"], "headers", errors).Select(i => RenameHeader(i.Text, i.Path, errors)).OfType<(string, string)>()],
                [.. HeaderEntries(sections["replace"], errors)],
                [.. HeaderEntries(sections["add"], errors)],
                [.. HeaderEntries(sections["append"], errors)]);

            var json = new JsonOperations(
                [.. Items(sections["remove"], "json", errors).Select(i => RemoveTarget(i.Text, i.Path, errors)).OfType<JsonTarget>()],
                [.. Items(sections["rename"], "json", errors).Select(i => RenameKey(i.Text, i.Path, errors)).OfType<(string, string)>()],
                [.. JsonEntries(sections["replace"], errors, pathsAllowed: true)],
                [.. JsonEntries(sections["add"], errors, pathsAllowed: false)],
                [.. JsonEntries(sections["append"], errors, pathsAllowed: false)]);

            foreach (var name in Sections)
            {
                sections[name]?.Finish();
            }

            // Our extension: the largest JSON body that is buffered and edited; a larger one streams through.
            var maxBodySize = config.Int("max_body_size", DefaultMaxBodySize, 1, MaxMaxBodySize);
            config.Finish();
            return new Options(headers, json, maxBodySize);
        }

        /// <summary>The string items of a list field, each with its path (<c>plugins[0].config.remove.json[1]</c>).</summary>
        private static List<(string Text, string Path)> Items(MapReader? section, string field, List<ConfigIssue> errors)
        {
            var items = new List<(string, string)>();
            if (section is null)
            {
                return items;
            }

            foreach (var (node, path) in section.List(field))
            {
                if (node.Kind == ConfigNodeKind.Scalar)
                {
                    items.Add((node.Text, path));
                }
                else
                {
                    errors.Add(new(path, $"expected a string, got {node.Describe()}"));
                }
            }

            return items;
        }

        private static bool CheckHeaderName(string name, string path, List<ConfigIssue> errors, bool setsValue)
        {
            if (name.Length == 0 || !name.All(c => c is > ' ' and < (char)127 && !"\"(),/:;<=>?@[\\]{}".Contains(c, StringComparison.Ordinal)))
            {
                errors.Add(new(path, $"'{name}' is not a valid header name"));
                return false;
            }

            if (setsValue && FramingHeaders.Contains(name))
            {
                errors.Add(new(path, $"'{name}' frames the response (the gateway sets it); it can only be removed"));
                return false;
            }

            return true;
        }

        /// <summary>Splits <c>name:value</c> at the first ':' (values may hold more, e.g. a URL); null when there is no ':' or no name.</summary>
        private static (string Name, string Value)? Split(string entry, string path, List<ConfigIssue> errors, string shape)
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                errors.Add(new(path, $"'{entry}' is not '{shape}'"));
                return null;
            }

            return (entry[..colon], entry[(colon + 1)..]);
        }

        private static (string, string)? RenameHeader(string entry, string path, List<ConfigIssue> errors) =>
            Split(entry, path, errors, "old:new") is (var from, var to)
            && CheckHeaderName(from, path, errors, setsValue: false) && CheckHeaderName(to, path, errors, setsValue: true)
                ? (from, to)
                : null;

        private static IEnumerable<KeyValuePair<string, string>> HeaderEntries(MapReader? section, List<ConfigIssue> errors)
        {
            var entries = new List<KeyValuePair<string, string>>();
            foreach (var (text, path) in Items(section, "headers", errors))
            {
                if (Split(text, path, errors, "name:value") is not (var name, var value) || !CheckHeaderName(name, path, errors, setsValue: true))
                {
                    continue;
                }

                if (value.Length == 0)
                {
                    // Kong skips such an entry at run time; nothing is silently dropped here.
                    errors.Add(new(path, $"'{name}' has no value"));
                }
                else if (!TokenClaims.IsHeaderSafe(value))
                {
                    errors.Add(new(path, $"'{name}': the value contains CR, LF or another character a header cannot carry"));
                }
                else
                {
                    entries.Add(new(name, value));
                }
            }

            return entries;
        }

        private static JsonTarget? RemoveTarget(string entry, string path, List<ConfigIssue> errors)
        {
            if (!JsonPath.IsPath(entry))
            {
                return CheckKey(entry, path, errors) ? new JsonTarget(entry, null) : null;
            }

            var parsed = ParsePath(entry, path, errors, out var end);
            if (parsed is not null && end != entry.Length)
            {
                errors.Add(new(path, $"'{entry}' is not a supported JSON path: unexpected '{entry[end]}' at position {end}"));
                return null;
            }

            return parsed is null ? null : new JsonTarget(entry, parsed);
        }

        private static JsonPath? ParsePath(string entry, string path, List<ConfigIssue> errors, out int end)
        {
            var parsed = JsonPath.Parse(entry, out end, out var error);
            if (parsed is null)
            {
                errors.Add(new(path, $"'{entry}' is not a supported JSON path: {error}"));
            }

            return parsed;
        }

        private static bool CheckKey(string key, string path, List<ConfigIssue> errors)
        {
            if (key.Length == 0)
            {
                errors.Add(new(path, "an empty JSON key"));
                return false;
            }

            if (JsonPath.IsPath(key))
            {
                errors.Add(new(path, $"'{key}': JSON paths are supported in remove.json and replace.json only"));
                return false;
            }

            return true;
        }

        private static (string, string)? RenameKey(string entry, string path, List<ConfigIssue> errors) =>
            Split(entry, path, errors, "old:new") is (var from, var to) && CheckKey(from, path, errors) && CheckKey(to, path, errors)
                ? (from, to)
                : null;

        private static List<JsonEntry> JsonEntries(MapReader? section, List<ConfigIssue> errors, bool pathsAllowed)
        {
            var entries = new List<JsonEntry>();
            if (section is null)
            {
                return entries;
            }

            var types = Items(section, "json_types", errors);
            foreach (var (type, path) in types)
            {
                if (type is not ("string" or "number" or "boolean"))
                {
                    errors.Add(new(path, $"'{type}' is not one of: boolean, number, string"));
                }
            }

            var items = Items(section, "json", errors);
            for (var i = 0; i < items.Count; i++)
            {
                var (text, path) = items[i];
                string key;
                string value;
                JsonPath? jsonPath = null;
                if (pathsAllowed && JsonPath.IsPath(text))
                {
                    jsonPath = ParsePath(text, path, errors, out var end);
                    if (jsonPath is null)
                    {
                        continue;
                    }

                    if (end == text.Length || text[end] != ':')
                    {
                        errors.Add(new(path, $"'{text}' is not 'path:value'"));
                        continue;
                    }

                    (key, value) = (jsonPath.Text, text[(end + 1)..]);
                }
                else if (Split(text, path, errors, "key:value") is (var name, var rest) && CheckKey(name, path, errors))
                {
                    (key, value) = (name, rest);
                }
                else
                {
                    continue;
                }

                // Kong pairs json_types[i] with json[i]; a missing type means string.
                var type = i < types.Count ? types[i].Text : "string";
                if (TypedValue(value, type) is { } typed)
                {
                    entries.Add(new JsonEntry(key, jsonPath, typed));
                }
                else
                {
                    errors.Add(new(path, $"'{key}': '{value}' is not a JSON {type} (json_types[{i}] is {type})"));
                }
            }

            return entries;
        }

        /// <summary>
        /// The value as Kong's json_types make it: a string as is, a number in JSON syntax, a boolean
        /// <c>true</c>/<c>false</c>. Kong turns a bad number into nothing and any other boolean word into
        /// false at run time; here they are import errors.
        /// </summary>
        private static JsonElement? TypedValue(string value, string type)
        {
            switch (type)
            {
                case "number":
                    try
                    {
                        using var document = JsonDocument.Parse(value);
                        return document.RootElement.ValueKind == JsonValueKind.Number ? document.RootElement.Clone() : null;
                    }
                    catch (JsonException)
                    {
                        return null;
                    }

                case "boolean":
                    return value switch
                    {
                        "true" => JsonSerializer.SerializeToElement(true),
                        "false" => JsonSerializer.SerializeToElement(false),
                        _ => null,
                    };
                case "string":
                    return JsonSerializer.SerializeToElement(value);
                default:
                    return null; // reported with json_types
            }
        }
    }

    public override bool HasResponsePhase => true;

    /// <summary>No access phase: Kong's plugin only has header_filter and body_filter.</summary>
    public override ValueTask<PluginResult> AccessAsync(GatewayContext context) => ValueTask.FromResult(PluginResult.Continue);

    /// <summary>Kong's header_filter (header_transformer.lua): remove, rename, replace, add, append.</summary>
    public override void TransformResponseHeaders(HttpContext context)
    {
        var ops = options.Headers;
        if (ops.IsEmpty)
        {
            return;
        }

        var headers = context.Response.Headers;
        HeaderEdits.RemoveThenRename(headers, ops.Remove, ops.Rename);

        foreach (var (name, value) in ops.Replace)
        {
            if (headers.ContainsKey(name))
            {
                headers[name] = value;
            }
        }

        foreach (var (name, value) in ops.Add)
        {
            if (!headers.ContainsKey(name))
            {
                headers[name] = value;
            }
        }

        foreach (var (name, value) in ops.Append)
        {
            headers.Append(name, value);
        }
    }

    /// <summary>
    /// Kong's body_filter on an upstream response: a JSON body (after this plugin's header edits) up to
    /// max_body_size is buffered, edited and sent with its new Content-Length; any other body streams through.
    /// </summary>
    public override async ValueTask TransformResponseBodyAsync(HttpContext context, HttpResponseMessage upstream, CancellationToken cancellationToken)
    {
        var response = context.Response;
        var declared = upstream.Content.Headers.ContentLength;
        if (options.Json.IsEmpty || !HasBody(context, upstream, declared))
        {
            return;
        }

        if (!IsJson(response.ContentType))
        {
            PassedThrough("content_type");
            return;
        }

        if (IsEncoded(response.Headers.ContentEncoding))
        {
            PassedThrough("content_encoding");
            return;
        }

        if (declared > options.MaxBodySize)
        {
            PassedThrough("size");
            return;
        }

        var content = upstream.Content;
        var stream = await content.ReadAsStreamAsync(cancellationToken);
        var (buffer, count) = await BufferAsync(stream, declared, cancellationToken);
        if (count > options.MaxBodySize)
        {
            // Chunked and over the limit: what was read goes first, the rest streams behind it.
            upstream.Content = new StreamContent(new ReplayStream(buffer, count, stream, content));
            PassedThrough("size");
            return;
        }

        var output = new ArrayBufferWriter<byte>(count + 256);
        if (ResponseBodyEditor.Edit(buffer.AsSpan(0, count), options.Json, output) == ResponseBodyEditor.Outcome.InvalidJson)
        {
            // Kong logs "body transform failed" and sends the body as it came.
            LogInvalidJson(logger, context.Features.Get<GatewayRequestFeature>()?.RequestId);
            upstream.Content = new StreamContent(new ReplayStream(buffer, count, stream, content));
            return;
        }

        ArrayPool<byte>.Shared.Return(buffer);
        content.Dispose();
        upstream.Content = new ReadOnlyMemoryContent(output.WrittenMemory);
        // Kong drops Content-Length and sends the edited body chunked; the length is known here, so it is sent.
        response.ContentLength = output.WrittenCount;
    }

    private static bool HasBody(HttpContext context, HttpResponseMessage upstream, long? declared) =>
        declared != 0
        && !HttpMethods.IsHead(context.Request.Method)
        && (int)upstream.StatusCode is >= 200 and not 204 and not 304;

    /// <summary>application/json and any <c>+json</c> media type (RFC 6839), parameters ignored.</summary>
    internal static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var mediaType = contentType.AsSpan();
        var semicolon = mediaType.IndexOf(';');
        mediaType = (semicolon >= 0 ? mediaType[..semicolon] : mediaType).Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsEncoded(Microsoft.Extensions.Primitives.StringValues contentEncoding)
    {
        foreach (var value in contentEncoding)
        {
            if (value is not null && !value.AsSpan().Trim().Equals("identity", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads up to max_body_size + 1 bytes into a pooled buffer: one byte more than the limit says the body is over it.</summary>
    private async ValueTask<(byte[] Buffer, int Count)> BufferAsync(Stream stream, long? declared, CancellationToken cancellationToken)
    {
        var cap = options.MaxBodySize + 1;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min((declared ?? InitialBuffer) + 1, cap));
        var count = 0;
        while (count < cap)
        {
            if (count == buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, cap));
                buffer.AsSpan(0, count).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
            }

            var read = await stream.ReadAsync(buffer.AsMemory(count, Math.Min(buffer.Length, cap) - count), cancellationToken);
            if (read == 0)
            {
                break;
            }

            count += read;
        }

        return (buffer, count);
    }

    private void PassedThrough(string reason) =>
        metrics.ResponseBodiesPassedThrough.Add(1, new KeyValuePair<string, object?>("reason", reason));

    [LoggerMessage(EventId = LogEvents.ResponseBodyNotJson, Level = LogLevel.Information,
        Message = "response-transformer left the body of request {RequestId} untouched: it is not valid JSON")]
    private static partial void LogInvalidJson(ILogger logger, string? requestId);
}
