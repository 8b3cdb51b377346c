using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>What a backend saw of one request.</summary>
public sealed record SeenRequest(string Method, string RawTarget, string Host, IReadOnlyDictionary<string, string> Headers);

/// <summary>A real Kestrel backend on a loopback port, recording every request it receives.</summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestBackend(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static async Task<TestBackend> StartAsync(Func<HttpContext, Task>? handler = null, string address = "127.0.0.1")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{address}:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        TestBackend? backend = null;
        app.Run(async context =>
        {
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
            backend!.Requests.Enqueue(new SeenRequest(context.Request.Method, raw, context.Request.Host.Value ?? "", headers));
            if (handler is null)
            {
                context.Response.Headers["X-Backend-Port"] = backend.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await context.Response.WriteAsync($"{context.Request.Method} {raw}");
            }
            else
            {
                await handler(context);
            }
        });
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        backend = new TestBackend(app, port);
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
