using Grpc.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.Bench.GrpcDriver;

/// <summary>The upstream gRPC server: plaintext HTTP/2 (h2c, prior knowledge) on a loopback port.</summary>
internal static class BenchServer
{
    public static async Task<int> RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Per-request hosting logs at Information would cost more than the call itself (as bench/Backend).
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.ListenLocalhost(port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();

        var app = builder.Build();
        app.MapGrpcService<ThingsService>();
        await app.RunAsync();
        return 0;
    }
}

/// <summary>GetThing answers a small fixed-shape message built from the request; every other method is UNIMPLEMENTED.</summary>
internal sealed class ThingsService : Things.ThingsBase
{
    public override Task<Thing> GetThing(GetThingRequest request, ServerCallContext context) =>
        Task.FromResult(new Thing
        {
            Name = request.Name,
            Big = 9007199254740993,
            Count = 3,
            Color = Color.Green,
            Tags = { "bench", "grpc" },
        });
}
