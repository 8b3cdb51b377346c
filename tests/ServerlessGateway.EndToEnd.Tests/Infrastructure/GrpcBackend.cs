using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A real Grpc.AspNetCore server on a loopback port speaking HTTP/2 only (h2c with prior knowledge, as a
/// grpc service is called), serving tests/Protos/transcoding.proto and recording each request message.
/// </summary>
public sealed class GrpcBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcBackend(WebApplication app, int port, ConcurrentQueue<(string Method, IMessage Request, string Protocol, IReadOnlyDictionary<string, string> Headers)> calls)
    {
        _app = app;
        Port = port;
        Calls = calls;
    }

    public int Port { get; }

    public ConcurrentQueue<(string Method, IMessage Request, string Protocol, IReadOnlyDictionary<string, string> Headers)> Calls { get; }

    /// <summary>Watch on <c>shelves/gated</c> sends its first message, then waits for this before the rest.</summary>
    public static SemaphoreSlim StreamGate { get; } = new(0);

    /// <summary>The descriptor set protoc built from the same .proto (see the project file), as base64 for config.</summary>
    public static string DescriptorSet { get; } = Convert.ToBase64String(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "transcoding.pb")));

    public static async Task<GrpcBackend> StartAsync()
    {
        var calls = new ConcurrentQueue<(string, IMessage, string, IReadOnlyDictionary<string, string>)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(new ThingsService(calls));
        var app = builder.Build();
        app.MapGrpcService<ThingsService>();
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return new GrpcBackend(app, port, calls);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Answers with what it received, so tests see how the REST request was mapped.</summary>
    internal sealed class ThingsService(ConcurrentQueue<(string, IMessage, string, IReadOnlyDictionary<string, string>)> calls) : Things.ThingsBase
    {
        private T Record<T>(string method, T request, ServerCallContext context)
            where T : IMessage
        {
            var http = context.GetHttpContext().Request;
            calls.Enqueue((method, request, http.Protocol, http.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            return request;
        }

        public override Task<Thing> GetThing(GetThingRequest request, ServerCallContext context)
        {
            Record("GetThing", request, context);
            if (request.Name == "things/missing")
            {
                throw new RpcException(new Status(StatusCode.NotFound, "thing things/missing does not exist (100%)"));
            }

            var thing = new Thing
            {
                Name = request.Name, Count = request.PageSize, Home = request.Filter, Color = request.Color,
                Flag = request.Verbose, Created = request.Since, Big = request.Big,
            };
            thing.Tags.AddRange(request.Fields);
            return Task.FromResult(thing);
        }

        public override Task<Thing> CreateThing(Thing request, ServerCallContext context) =>
            Task.FromResult(Record("CreateThing", request, context).Clone());

        public override Task<Thing> Echo(Thing request, ServerCallContext context) =>
            Task.FromResult(Record("Echo", request, context).Clone());

        public override Task<Thing> Search(Thing request, ServerCallContext context)
        {
            var found = Record("Search", request, context).Clone();
            found.Text = "found";
            return Task.FromResult(found);
        }

        public override Task<Thing> UpdateThing(UpdateThingRequest request, ServerCallContext context)
        {
            Record("UpdateThing", request, context);
            var thing = request.Thing?.Clone() ?? new Thing();
            thing.Name = request.Name;
            thing.Mask = request.UpdateMask;
            return Task.FromResult(thing);
        }

        public override Task<Empty> DeleteThing(GetThingRequest request, ServerCallContext context)
        {
            Record("DeleteThing", request, context);
            return Task.FromResult(new Empty());
        }

        public override Task<Page> ListPage(ListThingsRequest request, ServerCallContext context)
        {
            Record("ListPage", request, context);
            var page = new Page { NextToken = "next" };
            for (var i = 0; i < request.Count; i++)
            {
                page.Things.Add(new Thing { Name = $"{request.Parent}/{i}", Count = i });
            }

            return Task.FromResult(page);
        }

        public override Task<Thing> Fail(FailRequest request, ServerCallContext context)
        {
            Record("Fail", request, context);
            throw new RpcException(new Status((StatusCode)request.Code, request.Message));
        }

        public override async Task Watch(ListThingsRequest request, IServerStreamWriter<Thing> responseStream, ServerCallContext context)
        {
            Record("Watch", request, context);
            for (var i = 0; i < request.Count; i++)
            {
                await responseStream.WriteAsync(new Thing { Name = $"{request.Parent}/{i}", Count = i, Big = long.MaxValue - i });
                if (i == 0 && request.Parent == "shelves/gated")
                {
                    await StreamGate.WaitAsync(TimeSpan.FromSeconds(20), context.CancellationToken);
                }
            }

            if (request.Parent == "shelves/broken")
            {
                throw new RpcException(new Status(StatusCode.DataLoss, "the shelf broke"));
            }
        }

        public override Task<Thing> Upload(IAsyncStreamReader<Thing> requestStream, ServerCallContext context) =>
            throw new RpcException(new Status(StatusCode.Internal, "a client-streaming call must never reach the backend"));
    }
}
