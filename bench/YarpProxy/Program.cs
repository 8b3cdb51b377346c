// The peer the gateway is measured against: YARP as its users write it, one catch-all route
// and one destination, default transforms (X-Forwarded-*), default forwarder HttpClient.
// Destination: --BackendUrl http://127.0.0.1:PORT or the environment variable BackendUrl.
using Yarp.ReverseProxy.Configuration;

var builder = WebApplication.CreateBuilder(args);

var backendUrl = builder.Configuration["BackendUrl"];
if (!Uri.TryCreate(backendUrl, UriKind.Absolute, out _))
{
    Console.Error.WriteLine("YarpProxy: set the destination with --BackendUrl http://127.0.0.1:PORT (or env BackendUrl).");
    return 2;
}

builder.Services.AddReverseProxy().LoadFromMemory(
    [
        new RouteConfig
        {
            RouteId = "all",
            ClusterId = "backend",
            Match = new RouteMatch { Path = "/{**catch-all}" },
        },
    ],
    [
        new ClusterConfig
        {
            ClusterId = "backend",
            Destinations = new Dictionary<string, DestinationConfig>
            {
                ["backend"] = new DestinationConfig { Address = backendUrl },
            },
        },
    ]);

var app = builder.Build();
app.MapReverseProxy();
app.Run();
return 0;
