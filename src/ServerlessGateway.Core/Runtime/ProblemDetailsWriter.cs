using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace ServerlessGateway.Runtime;

/// <summary>Every rejection the gateway makes, as RFC 9457 problem+json with the request id.</summary>
internal static class ProblemDetailsWriter
{
    public static Task WriteAsync(HttpContext context, int status, string detail, string? requestId = null) =>
        WriteAsync(context, status, detail, requestId, extensions: null);

    /// <param name="extensions">Extra members (RFC 9457 §3.2), e.g. the list of validation errors.</param>
    public static Task WriteAsync(HttpContext context, int status, string detail, string? requestId, Action<Utf8JsonWriter>? extensions) =>
        context.Response.Body.WriteAsync(Prepare(context, status, detail, requestId, extensions)).AsTask();

    /// <summary>
    /// Sets the status and headers and returns the body, for a caller that sends it another way (a response
    /// phase replacing the upstream's content).
    /// </summary>
    public static ReadOnlyMemory<byte> Prepare(HttpContext context, int status, string detail, string? requestId, Action<Utf8JsonWriter>? extensions)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/problem+json";
        response.Headers.CacheControl = "no-store";
        var feature = context.Features.Get<GatewayRequestFeature>();
        requestId ??= feature?.RequestId;

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("type", "about:blank");
            json.WriteString("title", ReasonPhrases.GetReasonPhrase(status));
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            if (requestId is not null)
            {
                json.WriteString("request_id", requestId);
            }

            if (feature?.CorrelationId is { } correlationId)
            {
                json.WriteString("correlation_id", correlationId);
            }

            extensions?.Invoke(json);

            json.WriteEndObject();
        }

        response.ContentLength = buffer.WrittenCount;
        return buffer.WrittenMemory;
    }
}
