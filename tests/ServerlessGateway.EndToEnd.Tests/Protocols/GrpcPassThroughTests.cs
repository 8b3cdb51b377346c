using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ServerlessGateway.EndToEnd.Tests.Grpc;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests.Protocols;

/// <summary>
/// gRPC through the Standalone host: a Grpc.Net.Client client speaks h2c with prior knowledge to the
/// gateway, which forwards over HTTP/2 to a real Grpc.AspNetCore server (h2c for <c>grpc</c>, h2 by
/// ALPN for <c>grpcs</c>). Messages, trailers, statuses and deadlines must all pass.
/// </summary>
public sealed class GrpcPassThroughTests
{
    [Fact(Timeout = 30_000)]
    public async Task Unary_call_passes_with_its_trailers_over_h2c()
    {
        // Arrange
        await using var echo = await EchoThroughGateway.StartAsync();
        var client = echo.Client;

        // Act
        using var call = client.UnaryAsync(new EchoRequest { Text = "hello" });
        var reply = await call.ResponseAsync;

        // Assert
        Assert.Equal("hello", reply.Text);
        Assert.Equal("HTTP/2", reply.Protocol);
        Assert.Equal("unary:hello", call.GetTrailers().GetValue("x-echo-trailer"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Server_streaming_call_delivers_every_message_then_the_trailers()
    {
        await using var echo = await EchoThroughGateway.StartAsync();
        var client = echo.Client;

        using var call = client.Stream(new EchoRequest { Text = "tick", Count = 5, DelayMs = 20 });
        var indexes = new List<int>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            indexes.Add(reply.Index);
        }

        Assert.Equal([0, 1, 2, 3, 4], indexes);
        Assert.Equal("stream:5", call.GetTrailers().GetValue("x-echo-trailer"));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Error_status_and_message_from_the_backend_reach_the_client()
    {
        await using var echo = await EchoThroughGateway.StartAsync();
        var client = echo.Client;

        using var call = client.UnaryAsync(new EchoRequest { Text = "no such widget: 42", FailWith = (int)StatusCode.NotFound });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("no such widget: 42", error.Status.Detail);
        Assert.Equal("unary:no such widget: 42", error.Trailers.GetValue("x-echo-trailer"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Error_status_after_streamed_messages_reaches_the_client()
    {
        await using var echo = await EchoThroughGateway.StartAsync();
        var client = echo.Client;

        using var call = client.Stream(new EchoRequest { Text = "quota spent", Count = 2, FailWith = (int)StatusCode.ResourceExhausted });
        var received = 0;
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
                received++;
            }
        });

        Assert.Equal(2, received);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("quota spent", error.Status.Detail);
    }

    [Fact(Timeout = 30_000)]
    public async Task Deadline_is_forwarded_and_the_backend_call_is_cancelled_when_it_passes()
    {
        await using var echo = await EchoThroughGateway.StartAsync();
        var client = echo.Client;
        var started = TimeProvider.System.GetTimestamp();

        using var call = client.UnaryAsync(new EchoRequest { Text = "slow", DelayMs = 20_000 }, deadline: DateTime.UtcNow.AddMilliseconds(500));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10));
        // The backend got the deadline as grpc-timeout and its call ended with it, not 20 s later.
        Assert.True(echo.Recorder.Seen.TryPeek(out var timeout));
        Assert.Matches("^[0-9]+[HMSmun]$", timeout);
        await echo.Recorder.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact(Timeout = 30_000)]
    public async Task Read_timeout_is_idle_time_so_a_stream_longer_than_it_passes_and_a_silent_one_is_cut()
    {
        // Kong's read_timeout is the longest pause between two reads, not a limit on the whole call.
        await using var echo = await EchoThroughGateway.StartAsync(yaml => yaml.Replace("    url:", "    read_timeout: 400\n    url:", StringComparison.Ordinal));
        var client = echo.Client;

        using var steady = client.Stream(new EchoRequest { Text = "steady", Count = 8, DelayMs = 100 });
        var steadyCount = 0;
        await foreach (var _ in steady.ResponseStream.ReadAllAsync())
        {
            steadyCount++;
        }

        using var silent = client.Stream(new EchoRequest { Text = "silent", Count = 2, DelayMs = 3_000 });
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var _ in silent.ResponseStream.ReadAllAsync())
            {
            }
        });

        Assert.Equal(8, steadyCount);
        Assert.NotEqual(StatusCode.OK, error.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Client_stream_that_pauses_longer_than_the_body_rate_grace_is_not_cut()
    {
        // Kestrel's minimum request body rate guards ordinary uploads against slow-loris; a gRPC
        // stream may pause between messages as long as the application likes. YARP lifts the rate
        // (and the body size limit) for application/grpc requests; this keeps that true here.
        await using var echo = await EchoThroughGateway.StartAsync(
            gatewayServices: services => services.Configure<KestrelServerOptions>(k => k.Limits.MinRequestBodyDataRate = new(240, TimeSpan.FromSeconds(1.1))));
        var client = echo.Client;

        using var call = client.Collect();
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "first" });
        await Task.Delay(TimeSpan.FromSeconds(3));
        await call.RequestStream.WriteAsync(new EchoRequest { Text = "second" });
        await call.RequestStream.CompleteAsync();
        var reply = await call.ResponseAsync;

        Assert.Equal("first,second", reply.Text);
        Assert.Equal(2, reply.Index);
    }

    [Fact(Timeout = 30_000)]
    public async Task Grpcs_service_reaches_an_h2_backend_negotiated_by_alpn()
    {
        var ca = TestCertificates.CreateCa("grpcs test CA");
        var recorder = new EchoRecorder();
        await using var backend = await StartEchoBackendAsync(recorder, TestCertificates.CreateServer(ca));
        var yaml = $"""
            _format_version: "3.0"
            ca_certificates:
              - id: 5a3b4c1e-0000-4000-8000-000000000001
                cert: |
            {Indent(TestCertificates.CertificatePem(ca), 6)}
            services:
              - name: echo
                url: grpcs://127.0.0.1:{backend.Port}
                ca_certificates: [5a3b4c1e-0000-4000-8000-000000000001]
                routes:
                  - name: echo
                    paths: [/echo.v1.Echo/]
                    strip_path: false
            """;
        await using var gateway = await TestGateway.StartAsync(yaml, h2cEndpoint: true);
        using var channel = Channel(gateway);
        var client = new Echo.EchoClient(channel);

        var reply = await client.UnaryAsync(new EchoRequest { Text = "over tls" });

        Assert.Equal("over tls", reply.Text);
        Assert.Equal("HTTP/2", reply.Protocol);
    }

    [Fact(Timeout = 30_000)]
    public async Task Http11_client_reaches_an_h2c_only_backend_through_a_grpc_service()
    {
        await using var backend = await LoopbackServer.StartAsync(null,
            app => app.MapGet("/plain", (HttpContext c) => c.Request.Protocol), HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync(Config($"grpc://127.0.0.1:{backend.Port}", "/plain"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/plain") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.Equal("HTTP/2", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Http2_client_reaches_an_http11_backend_and_http11_clients_still_work()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync(c.Request.Protocol));
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "/plain"), h2cEndpoint: true);
        using var h2 = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.H2cAddress!, "/plain")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var h1 = new HttpRequestMessage(HttpMethod.Get, "/plain") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var viaH2 = await gateway.Client.SendAsync(h2);
        using var viaH1 = await gateway.Client.SendAsync(h1);

        Assert.Equal(HttpVersion.Version20, viaH2.Version);
        Assert.Equal("HTTP/1.1", await viaH2.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version11, viaH1.Version);
        Assert.Equal("HTTP/1.1", await viaH1.Content.ReadAsStringAsync());
    }

    /// <summary>An echo backend, the gateway in front of it (h2c endpoint) and a gRPC client of the gateway.</summary>
    private sealed class EchoThroughGateway : IAsyncDisposable
    {
        private LoopbackServer _backend = null!;
        private TestGateway _gateway = null!;
        private GrpcChannel _channel = null!;

        public EchoRecorder Recorder { get; } = new();

        public Echo.EchoClient Client { get; private set; } = null!;

        public static async Task<EchoThroughGateway> StartAsync(Func<string, string>? editConfig = null, Action<IServiceCollection>? gatewayServices = null)
        {
            var setup = new EchoThroughGateway();
            setup._backend = await StartEchoBackendAsync(setup.Recorder);
            var yaml = Config($"grpc://127.0.0.1:{setup._backend.Port}");
            setup._gateway = await TestGateway.StartAsync(editConfig?.Invoke(yaml) ?? yaml, gatewayServices, h2cEndpoint: true);
            setup._channel = Channel(setup._gateway);
            setup.Client = new Echo.EchoClient(setup._channel);
            return setup;
        }

        public async ValueTask DisposeAsync()
        {
            _channel.Dispose();
            await _gateway.DisposeAsync();
            await _backend.DisposeAsync();
        }
    }

    internal static async Task<LoopbackServer> StartEchoBackendAsync(EchoRecorder recorder, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null) =>
        await LoopbackServer.StartAsync(
            services =>
            {
                services.AddGrpc();
                services.AddSingleton(recorder);
            },
            app => app.MapGrpcService<EchoService>(),
            HttpProtocols.Http2,
            certificate);

    private static GrpcChannel Channel(TestGateway gateway) =>
        GrpcChannel.ForAddress(gateway.H2cAddress!, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { UseProxy = false },
        });

    private static string Config(string url, string path = "/echo.v1.Echo/") => $"""
        _format_version: "3.0"
        services:
          - name: echo
            url: {url}
            routes:
              - name: echo
                paths: [{path}]
                strip_path: false
        """;

    internal static string Indent(string text, int spaces) =>
        string.Join('\n', text.TrimEnd().Split('\n').Select(line => new string(' ', spaces) + line));
}
