using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ServerlessGateway.Functions.Tests.Infrastructure;

/// <summary>
/// The Functions app's code on real Kestrel (loopback, free port), dispatched the way the Functions host
/// and the ASP.NET Core integration do: the host picks a function by <see cref="FunctionsHostRouter"/>,
/// the worker creates the function class per invocation from the app's container, passes the request's
/// HttpRequest and executes the returned result against the same HttpContext.
/// </summary>
internal sealed class FunctionsAppHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FunctionsAppHost(WebApplication app, Uri baseAddress, ConcurrentQueue<string> invoked)
    {
        _app = app;
        BaseAddress = baseAddress;
        Invoked = invoked;
    }

    public Uri BaseAddress { get; }

    /// <summary>The functions the host selected, in request order.</summary>
    public ConcurrentQueue<string> Invoked { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<FunctionsAppHost> StartAsync(IDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddFunctionsGateway(builder.Configuration);

        var app = builder.Build();
        var router = new FunctionsHostRouter(FunctionsAppOutput.Functions, routePrefix: "");
        var functionsAssembly = typeof(ProxyFunction).Assembly;
        var invoked = new ConcurrentQueue<string>();
        app.Run(context => InvokeAsync(context, router, functionsAssembly, invoked));
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new FunctionsAppHost(app, new Uri(address), invoked);
    }

    private static async Task InvokeAsync(HttpContext context, FunctionsHostRouter router, Assembly functionsAssembly, ConcurrentQueue<string> invoked)
    {
        var function = router.Select(context.Request.Method, context.Request.Path);
        if (function is null)
        {
            context.Response.StatusCode = (int)HttpStatusCode.NotFound;
            return;
        }

        invoked.Enqueue(function.Name);
        var split = function.EntryPoint.LastIndexOf('.');
        var type = functionsAssembly.GetType(function.EntryPoint[..split], throwOnError: true)!;
        var method = type.GetMethod(function.EntryPoint[(split + 1)..])!;
        var instance = ActivatorUtilities.CreateInstance(context.RequestServices, type);
        var result = await (Task<IResult>)method.Invoke(instance, [context.Request])!;
        await result.ExecuteAsync(context);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
