using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// Kong's <c>grpc-gateway</c> (https://docs.konghq.com/hub/kong-inc/grpc-gateway/): REST/JSON requests to gRPC
/// methods by their <c>google.api.http</c> annotations. The access phase turns a matching request into a gRPC
/// call (POST /pkg.Service/Method, application/grpc, one length-prefixed message, te: trailers) that the
/// pipeline forwards like any request (same upstream selection, SSRF guard and timeouts; the service's
/// grpc protocol makes it h2c); the response phase turns the gRPC answer and its trailers back into JSON,
/// or problem+json with the google.rpc HTTP status. Our extension: the schema comes as <c>descriptor_set</c>
/// (base64 FileDescriptorSet) instead of Kong's <c>proto</c> file path. See docs/grpc-gateway.md.
/// </summary>
internal sealed partial class GrpcGatewayPlugin(PluginConfig config, GrpcGatewayPlugin.Options options, ILogger logger) : GatewayPlugin(config)
{
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;
    private const int MaxMaxMessageSize = 64 * 1024 * 1024;

    internal sealed record Options(GrpcDescriptorSet Descriptors, bool IgnoreUnknownFields, int MaxMessageSize)
    {
        public JsonToProto Encoder { get; } = new(Descriptors.Schema, IgnoreUnknownFields);

        public ProtoToJson Decoder { get; } = new(Descriptors.Schema);
    }

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "grpc-gateway";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config, context.Errors);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime)
        {
            var errors = new List<ConfigIssue>();
            var options = Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", errors), errors)
                ?? throw new InvalidOperationException("grpc-gateway config did not validate: " + string.Join("; ", errors));
            return new GrpcGatewayPlugin(plugin, options, runtime.Loggers.CreateLogger<GrpcGatewayPlugin>());
        }

        internal static Options? Read(MapReader config, List<ConfigIssue> errors)
        {
            config.KongDefault("proto", "null", "a serverless gateway keeps no files: give the compiled descriptor set as descriptor_set");
            var descriptorSet = config.String("descriptor_set", required: true);
            var services = config.StringList("services");
            var ignoreUnknownFields = config.Bool("ignore_unknown_fields", false);
            var maxMessageSize = config.Int("max_message_size", DefaultMaxMessageSize, 1, MaxMaxMessageSize);
            config.Finish();
            if (descriptorSet is null)
            {
                return null;
            }

            var descriptors = GrpcDescriptorSet.Load(descriptorSet, services, config.At("descriptor_set"), config.At("services"), errors);
            return descriptors is null ? null : new Options(descriptors, ignoreUnknownFields, maxMessageSize);
        }
    }

    public override bool HasResponsePhase => true;

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var request = context.Http.Request;
        var binding = options.Descriptors.Match(request.Method, context.Request.Path, out var pathValues, out var pathMatched);
        if (binding is null)
        {
            return ValueTask.FromResult(pathMatched
                ? PluginResult.Reject(StatusCodes.Status405MethodNotAllowed, $"no gRPC method is bound to {request.Method} {context.Request.Path}")
                : PluginResult.Reject(StatusCodes.Status404NotFound, $"no gRPC method is bound to {context.Request.Path}"));
        }

        if (binding.Method.ClientStreaming)
        {
            return ValueTask.FromResult(PluginResult.Reject(StatusCodes.Status501NotImplemented,
                $"{binding.Method.FullName} is a client-streaming method, which the REST mapping cannot call"));
        }

        return CallAsync(context, binding, pathValues);
    }

    private async ValueTask<PluginResult> CallAsync(GatewayContext context, HttpBinding binding, string[] pathValues)
    {
        var request = context.Http.Request;
        ReadOnlyMemory<byte> body = default;
        if (binding.Body is not null)
        {
            if (!IsJsonOrAbsent(request.ContentType) || request.Headers.ContentEncoding is { Count: > 0 } encoding && encoding.ToString() != "identity")
            {
                return PluginResult.Reject(StatusCodes.Status415UnsupportedMediaType, "the body of a gRPC-mapped request must be uncompressed application/json");
            }

            var (read, outcome) = await ReadBodyAsync(context);
            if (outcome.Rejected)
            {
                return outcome;
            }

            body = read;
        }

        var input = binding.Method.Input;
        if (!RequestMessageBuilder.TryBuild(binding, pathValues, context.Request.Query, body, options.IgnoreUnknownFields, out var json, out var error)
            || !options.Encoder.TryEncode(json, input, out var message, out error))
        {
            return PluginResult.Reject(StatusCodes.Status400BadRequest, Describe(error!));
        }

        if (message.Length > options.MaxMessageSize)
        {
            return PluginResult.Reject(StatusCodes.Status413PayloadTooLarge, $"the request message is {message.Length} bytes, over max_message_size ({options.MaxMessageSize})");
        }

        var frame = GrpcFrameReader.Frame(message);
        request.Method = HttpMethods.Post;
        request.Body = new MemoryStream(frame, writable: false);
        request.ContentLength = frame.Length;
        request.ContentType = "application/grpc";
        request.Headers.Remove("Content-Encoding");
        request.Headers.Remove("Content-MD5");
        if (context.Http.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true })
        {
            // A GET has no body for YARP to forward unless told otherwise; the gRPC call always has one.
            context.Http.Features.Set<IHttpRequestBodyDetectionFeature>(BodyPresent.Instance);
        }

        // gRPC requires te: trailers (PROTOCOL-HTTP2.md); it is a hop-by-hop header, so it is set on the upstream request itself.
        context.Request.AddUpstreamHeader("TE", "trailers");
        context.Request.UpstreamPathOverride = binding.Method.Path;
        context.Request.Query = "";
        context.Request.GrpcBinding = binding;
        return PluginResult.Continue;
    }

    private static string Describe(TranscodeError error) =>
        error.Field.Length == 0 ? error.Message : $"field '{error.Field}': {error.Message}";

    private static bool IsJsonOrAbsent(string? contentType) =>
        string.IsNullOrEmpty(contentType) || Transforms.ResponseTransformerPlugin.IsJson(contentType);

    /// <summary>Buffers the JSON body up to max_message_size; one byte more is a 413.</summary>
    private async ValueTask<(ReadOnlyMemory<byte> Body, PluginResult Outcome)> ReadBodyAsync(GatewayContext context)
    {
        var request = context.Http.Request;
        if (request.ContentLength > options.MaxMessageSize)
        {
            return (default, TooLarge());
        }

        var buffer = new MemoryStream();
        try
        {
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await request.Body.ReadAsync(chunk, context.Http.RequestAborted)) > 0)
                {
                    if (buffer.Length + read > options.MaxMessageSize)
                    {
                        return (default, TooLarge());
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        catch (BadHttpRequestException e)
        {
            return (default, PluginResult.Reject(e.StatusCode, "the request body could not be read: " + e.Message));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            return (default, PluginResult.Reject(StatusCodes.Status400BadRequest, "the request body could not be read from the client"));
        }

        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), PluginResult.Continue);
    }

    private PluginResult TooLarge() =>
        PluginResult.Reject(StatusCodes.Status413PayloadTooLarge, $"the request body is over max_message_size ({options.MaxMessageSize} bytes)");

    /// <summary>The gRPC response (status in trailers, or in headers for a trailers-only answer) -> JSON, NDJSON or problem+json.</summary>
    public override async ValueTask TransformResponseBodyAsync(HttpContext context, HttpResponseMessage upstream, CancellationToken cancellationToken)
    {
        var feature = context.Features.GetRequiredFeature<GatewayRequestFeature>();
        if (feature.GrpcBinding is not { } binding)
        {
            return;
        }

        var response = context.Response;
        RemoveGrpcHeaders(response.Headers);
        if ((int)upstream.StatusCode != StatusCodes.Status200OK || upstream.Content.Headers.ContentType?.MediaType is not { } mediaType
            || !mediaType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            Fail(context, upstream, $"the upstream answered HTTP {(int)upstream.StatusCode} without gRPC content");
            return;
        }

        if (Status(upstream.Headers) is { } trailersOnly)
        {
            // Trailers-only: the status came with the headers and there is no message.
            if (trailersOnly.Code != 0)
            {
                WriteStatus(context, upstream, trailersOnly);
                return;
            }

            if (!binding.Method.ServerStreaming)
            {
                Fail(context, upstream, "the unary gRPC call returned OK without a message");
                return;
            }
        }

        var gzip = upstream.Headers.TryGetValues("grpc-encoding", out var encodings) && encodings.Contains("gzip", StringComparer.OrdinalIgnoreCase);
        var stream = await upstream.Content.ReadAsStreamAsync(cancellationToken);
        var frames = new GrpcFrameReader(stream, options.MaxMessageSize, gzip);
        var (outcome, message) = await frames.ReadAsync(cancellationToken);
        if (outcome is not (GrpcFrameReader.Outcome.Message or GrpcFrameReader.Outcome.End))
        {
            Fail(context, upstream, $"the gRPC response message is invalid ({outcome})");
            return;
        }

        if (binding.Method.ServerStreaming && outcome == GrpcFrameReader.Outcome.Message)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/x-ndjson";
            response.ContentLength = null;
            upstream.Content = new StreamContent(new NdjsonStream(frames, message, m => Line(binding, m), () => FinalStatus(upstream)));
            return;
        }

        // Unary (or a stream that ended before its first message): the status decides the HTTP answer.
        if (outcome == GrpcFrameReader.Outcome.Message && (await frames.ReadAsync(cancellationToken)).Outcome != GrpcFrameReader.Outcome.End)
        {
            Fail(context, upstream, "the unary gRPC response has more than one message");
            return;
        }

        var status = FinalStatus(upstream);
        if (status.Code != 0)
        {
            WriteStatus(context, upstream, status);
            return;
        }

        if (binding.Method.ServerStreaming)
        {
            Replace(context, upstream, ReadOnlyMemory<byte>.Empty, "application/x-ndjson");
            return;
        }

        if (outcome == GrpcFrameReader.Outcome.End)
        {
            Fail(context, upstream, "the unary gRPC call returned OK without a message");
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, message.Length * 2));
        if (!TryConvert(buffer, binding, message, out var conversionError))
        {
            Fail(context, upstream, "the gRPC response message does not match its descriptor: " + conversionError);
            return;
        }

        Replace(context, upstream, buffer.WrittenMemory, "application/json");
    }

    private bool TryConvert(ArrayBufferWriter<byte> buffer, HttpBinding binding, Google.Protobuf.ByteString message, out string? error)
    {
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return options.Decoder.TryWrite(writer, binding.Method.Output, message, binding.ResponseBody, out error);
    }

    private ReadOnlyMemory<byte> Line(HttpBinding binding, Google.Protobuf.ByteString message)
    {
        var buffer = new ArrayBufferWriter<byte>(Math.Max(256, message.Length * 2));
        if (!TryConvert(buffer, binding, message, out var error))
        {
            throw new IOException("the gRPC response message does not match its descriptor: " + error);
        }

        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
    }

    private static void Replace(HttpContext context, HttpResponseMessage upstream, ReadOnlyMemory<byte> body, string contentType)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        upstream.Content.Dispose();
        upstream.Content = new ReadOnlyMemoryContent(body);
        upstream.TrailingHeaders.Clear();
    }

    /// <summary>A non-OK gRPC status as problem+json with the google.rpc HTTP status and the gRPC message.</summary>
    private static void WriteStatus(HttpContext context, HttpResponseMessage upstream, (int Code, string Message) status)
    {
        var detail = status.Message.Length > 0 ? status.Message : $"the gRPC call failed with {GrpcStatus.Name(status.Code)}";
        var body = ProblemDetailsWriter.Prepare(context, GrpcStatus.ToHttp(status.Code), detail, requestId: null, json =>
        {
            json.WriteNumber("grpc_status", status.Code);
            json.WriteString("grpc_code", GrpcStatus.Name(status.Code));
        });
        upstream.Content.Dispose();
        upstream.Content = new ReadOnlyMemoryContent(body);
        upstream.TrailingHeaders.Clear();
    }

    private void Fail(HttpContext context, HttpResponseMessage upstream, string reason)
    {
        var requestId = context.Features.GetRequiredFeature<GatewayRequestFeature>().RequestId;
        LogInvalidResponse(logger, requestId, reason);
        var body = ProblemDetailsWriter.Prepare(context, StatusCodes.Status502BadGateway, reason, requestId, extensions: null);
        upstream.Content.Dispose();
        upstream.Content = new ReadOnlyMemoryContent(body);
        upstream.TrailingHeaders.Clear();
    }

    /// <summary>The call's status from the trailers (read once the body ended), else the headers; a missing status is UNKNOWN.</summary>
    private static (int Code, string Message) FinalStatus(HttpResponseMessage upstream)
    {
        var status = Status(upstream.TrailingHeaders) ?? Status(upstream.Headers) ?? (2, "the gRPC response ended without a status");
        upstream.TrailingHeaders.Clear();
        return status;
    }

    private static (int Code, string Message)? Status(System.Net.Http.Headers.HttpHeaders headers)
    {
        if (!headers.TryGetValues("grpc-status", out var values))
        {
            return null;
        }

        var code = int.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : 2;
        // grpc-message is percent-encoded (PROTOCOL-HTTP2.md).
        var message = headers.TryGetValues("grpc-message", out var messages) ? Uri.UnescapeDataString(messages.FirstOrDefault() ?? "") : "";
        return (code, message);
    }

    /// <summary>gRPC's own response headers mean nothing to a REST client; custom metadata passes through.</summary>
    private static void RemoveGrpcHeaders(IHeaderDictionary headers)
    {
        headers.Remove("grpc-status");
        headers.Remove("grpc-message");
        headers.Remove("grpc-status-details-bin");
        headers.Remove("grpc-encoding");
        headers.Remove("grpc-accept-encoding");
        headers.ContentLength = null;
    }

    private sealed class BodyPresent : IHttpRequestBodyDetectionFeature
    {
        public static readonly BodyPresent Instance = new();

        public bool CanHaveBody => true;
    }

    [LoggerMessage(EventId = LogEvents.GrpcResponseInvalid, Level = LogLevel.Warning,
        Message = "grpc-gateway could not convert the upstream response of request {RequestId}: {Reason}")]
    private static partial void LogInvalidResponse(ILogger logger, string requestId, string reason);
}
