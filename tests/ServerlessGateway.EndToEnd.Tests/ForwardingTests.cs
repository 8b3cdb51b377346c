using System.Net;
using System.Net.Sockets;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.EndToEnd.Tests;

public sealed class ForwardingTests
{
    private static string OneRoute(string url, string extra = "") => $"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{url}"
        {extra}
          routes:
          - name: r
            paths: [/api]
        """;

    [Fact(Timeout = 60_000)]
    public async Task Hop_by_hop_and_Connection_listed_headers_are_removed_both_ways()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers["X-Resp-Drop"] = "1";
            context.Response.Headers["X-Resp-Keep"] = "1";
            context.Response.Headers.Append("Connection", "X-Resp-Drop");
            context.Response.Headers["Keep-Alive"] = "timeout=5";
            await context.Response.WriteAsync("ok");
        });
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url));

        var response = await RawHttp.SendAsync(gateway.BaseAddress, """
            GET /api/hop HTTP/1.1
            Host: gw.test
            Connection: X-Drop-Me, X-Drop-Too
            X-Drop-Me: secret
            X-Drop-Too: 2
            X-Keep: 1
            Keep-Alive: timeout=5
            Proxy-Connection: keep-alive
            TE: gzip
            Upgrade: h2c


            """);

        Assert.Equal(200, response.Status);
        var seen = Assert.Single(backend.Requests).Headers;
        Assert.Equal("1", seen["X-Keep"]);
        foreach (var name in new[] { "X-Drop-Me", "X-Drop-Too", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade" })
        {
            Assert.False(seen.ContainsKey(name), $"{name} reached the backend");
        }

        Assert.Equal("1", response.Headers["X-Resp-Keep"]);
        Assert.False(response.Headers.ContainsKey("X-Resp-Drop"));
        Assert.False(response.Headers.ContainsKey("Keep-Alive"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Client_identity_headers_never_reach_the_backend_and_forwarded_headers_are_the_gateways()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/who");
        request.Headers.Add("X-Consumer-ID", "admin");
        request.Headers.Add("X-Consumer-Username", "admin");
        request.Headers.Add("X-Credential-Identifier", "forged");
        request.Headers.Add("X-Anonymous-Consumer", "false");
        request.Headers.Add("X-Authenticated-Userid", "root");
        request.Headers.Add("X-Gateway-Admin-Key", "stolen");
        request.Headers.Add("X-Forwarded-For", "6.6.6.6");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(backend.Requests).Headers;
        foreach (var name in new[] { "X-Consumer-ID", "X-Consumer-Username", "X-Credential-Identifier", "X-Anonymous-Consumer", "X-Authenticated-Userid", "X-Gateway-Admin-Key" })
        {
            Assert.False(seen.ContainsKey(name), $"{name} reached the backend");
        }

        // The client is not a trusted proxy: its forwarding headers are replaced, not believed.
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("127.0.0.1", seen["X-Real-IP"]);
        Assert.Equal("http", seen["X-Forwarded-Proto"]);
        Assert.Equal($"127.0.0.1:{gateway.BaseAddress.Port}", seen["X-Forwarded-Host"]);
        Assert.Equal(gateway.BaseAddress.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), seen["X-Forwarded-Port"]);
        Assert.Equal("/api", seen["X-Forwarded-Prefix"]);
        Assert.Equal("/api/who", seen["X-Forwarded-Path"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Forwarding_headers_from_a_trusted_proxy_are_kept_and_extended()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url), settings: new Dictionary<string, string?>
        {
            ["Gateway:TrustedProxies:0"] = "127.0.0.0/8",
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/who");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "api.example.com");
        await gateway.Client.SendAsync(request);

        var seen = Assert.Single(backend.Requests).Headers;
        Assert.Equal("203.0.113.9, 127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("203.0.113.9", seen["X-Real-IP"]);
        Assert.Equal("https", seen["X-Forwarded-Proto"]);
        Assert.Equal("api.example.com", seen["X-Forwarded-Host"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Connection_refused_maps_to_502_problem()
    {
        var closedPort = FreePort();
        await using var gateway = await TestGateway.StartAsync(OneRoute($"http://127.0.0.1:{closedPort}"));

        var response = await gateway.Client.GetAsync("/api/x");

        await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_backend_speaking_garbage_maps_to_502_problem()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await socket.SendAsync("this is not HTTP\r\n\r\n"u8.ToArray());
            socket.Shutdown(SocketShutdown.Both);
        });
        await using var gateway = await TestGateway.StartAsync(OneRoute($"http://127.0.0.1:{port}"));

        var response = await gateway.Client.GetAsync("/api/x");

        await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
        await serve;
    }

    [Fact(Timeout = 60_000)]
    public async Task A_backend_slower_than_read_timeout_maps_to_504_problem()
    {
        using var release = new CancellationTokenSource();
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20), release.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            await context.Response.WriteAsync("late");
        });
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url, "  read_timeout: 300"));

        var started = System.Diagnostics.Stopwatch.StartNew();
        var response = await gateway.Client.GetAsync("/api/slow");
        started.Stop();
        await release.CancelAsync();

        var detail = await Problem.AssertAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.Contains("read", detail, StringComparison.Ordinal);
        // Bound only: it must fire long before the backend answers, however slow this machine is.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"took {started.Elapsed}");
    }

    [Fact(Timeout = 60_000)]
    public async Task Read_timeout_is_idle_time_between_reads_not_a_total()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await context.Response.StartAsync();
            for (var i = 0; i < 8; i++)
            {
                await context.Response.WriteAsync($"{i}");
                await context.Response.Body.FlushAsync();
                await Task.Delay(150);
            }
        });
        // 8 x 150 ms = 1.2 s in total, well above the read timeout, but never idle that long.
        await using var gateway = await TestGateway.StartAsync(OneRoute(backend.Url, "  read_timeout: 1000"));

        var body = await gateway.Client.GetStringAsync("/api/drip");

        Assert.Equal("01234567", body);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resolver_slower_than_connect_timeout_maps_to_504()
    {
        var resolver = new FakeResolver(_ => [IPAddress.Loopback], delay: TimeSpan.FromSeconds(20));
        await using var gateway = await TestGateway.StartAsync(
            OneRoute("http://slow-dns.test:81", "  connect_timeout: 200"),
            s => s.AddSingleton<IUpstreamResolver>(resolver));

        var response = await gateway.Client.GetAsync("/api/x");

        var detail = await Problem.AssertAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.Contains("connecting", detail, StringComparison.Ordinal);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
