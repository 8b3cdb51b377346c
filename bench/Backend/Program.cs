// The benchmark's upstream: one small GET answered as cheaply as Kestrel allows, so that
// the proxy in front of it, not the backend, is what the peer benchmark measures.
// Terminal middleware instead of routing: no endpoint matching on the backend's share of CPU.
using System.Text;

var builder = WebApplication.CreateSlimBuilder(args);

// Per-request hosting logs at Information would cost more than the request itself.
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();

var body = Encoding.UTF8.GetBytes(
    """{"message":"hello from the benchmark backend","service":"backend","padding":"0123456789abcdef"}""");

app.Run(context =>
{
    var response = context.Response;
    if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal))
    {
        // The traced target's OTLP exports (POST /v1/traces, /v1/metrics): accepted and dropped.
        return context.Request.Body.CopyToAsync(Stream.Null);
    }

    if (!string.Equals(context.Request.Path.Value, "/api/hello", StringComparison.Ordinal))
    {
        response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
    {
        response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        return Task.CompletedTask;
    }

    response.StatusCode = StatusCodes.Status200OK;
    response.ContentType = "application/json";
    response.ContentLength = body.Length;
    return HttpMethods.IsHead(context.Request.Method)
        ? Task.CompletedTask
        : response.Body.WriteAsync(body).AsTask();
});

app.Run();
