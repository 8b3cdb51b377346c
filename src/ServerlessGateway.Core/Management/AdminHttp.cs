using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Management;

/// <summary>An admin request that cannot be served, as a status and a problem detail.</summary>
internal sealed class AdminProblem(int status, string detail, IReadOnlyList<ConfigIssue>? errors = null) : Exception(detail)
{
    public int Status { get; } = status;
    public IReadOnlyList<ConfigIssue>? Errors { get; } = errors;

    public Task WriteAsync(HttpContext context) =>
        ProblemDetailsWriter.WriteAsync(context, Status, Message, null, Errors is null ? null : json =>
        {
            json.WriteStartArray("errors");
            foreach (var error in Errors)
            {
                json.WriteStartObject();
                json.WriteString("path", error.Path);
                json.WriteString("message", error.Message);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
}

/// <summary>Reading bounded admin bodies and writing JSON answers.</summary>
internal static class AdminHttp
{
    public const long MaxEntityBody = 1024 * 1024;
    public const long MaxConfigBody = 16 * 1024 * 1024;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || contentType.Contains("+json", StringComparison.OrdinalIgnoreCase));

    public static bool IsYaml(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/yaml", StringComparison.OrdinalIgnoreCase)
            || contentType.StartsWith("application/x-yaml", StringComparison.OrdinalIgnoreCase)
            || contentType.StartsWith("text/yaml", StringComparison.OrdinalIgnoreCase));

    /// <summary>The body as text: JSON or YAML only (else 415), at most <paramref name="limit"/> bytes (else 413).</summary>
    public static async Task<string> ReadBodyAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (!IsJson(request.ContentType) && !IsYaml(request.ContentType))
        {
            throw new AdminProblem(StatusCodes.Status415UnsupportedMediaType, "send application/json or application/yaml");
        }

        if (request.ContentLength > limit)
        {
            throw new AdminProblem(StatusCodes.Status413PayloadTooLarge, $"the body exceeds {limit} bytes");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new AdminProblem(StatusCodes.Status413PayloadTooLarge, $"the body exceeds {limit} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new AdminProblem(StatusCodes.Status400BadRequest, "the body is not valid UTF-8");
        }
    }

    /// <summary>An entity body: one JSON (or YAML) object.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        var text = await ReadBodyAsync(context, MaxEntityBody);
        ConfigNode node;
        try
        {
            node = ConfigNode.Parse(text.Length == 0 ? "{}" : text);
        }
        catch (Exception ex) when (ex is YamlDotNet.Core.YamlException or JsonException or ConfigFormatException)
        {
            throw new AdminProblem(StatusCodes.Status400BadRequest, $"malformed body: {ex.Message}");
        }

        return node.Kind == ConfigNodeKind.Map
            ? (JsonObject)node.ToJson()!
            : throw new AdminProblem(StatusCodes.Status400BadRequest, "the body must be an object");
    }

    public static Task WriteJsonAsync(HttpContext context, int status, JsonNode body, string? etag = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        if (etag is not null)
        {
            response.Headers.ETag = etag;
        }

        return response.WriteAsync(body.ToJsonString(Options), context.RequestAborted);
    }

    /// <summary>A weak ETag over an entity's JSON.</summary>
    public static string ETagOf(JsonNode node) =>
        "W/\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(node.ToJsonString(Options))).AsSpan(0, 12)) + "\"";

    /// <summary>If-Match against the current ETag (null = the resource does not exist): false means 412.</summary>
    public static bool IfMatchHolds(HttpContext context, string? current)
    {
        var ifMatch = context.Request.Headers.IfMatch;
        if (ifMatch.Count == 0)
        {
            return true;
        }

        foreach (var value in ifMatch)
        {
            foreach (var tag in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (tag == "*" ? current is not null : current is not null && Strip(tag) == Strip(current))
                {
                    return true;
                }
            }
        }

        return false;

        // Weak comparison (RFC 9110 §8.8.3.2): W/ does not matter.
        static string Strip(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
    }
}
