using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// Hostile HTTP/1.1 against the Standalone host, as raw bytes: each malformed or ambiguous request gets a 4xx
/// (from Kestrel or the gateway) or a closed connection, the recording backend sees none of it (or exactly the
/// one unambiguous reading), and the gateway serves a normal request afterwards. docs/security-tests.md.
/// </summary>
public sealed class HostileHttpTests
{
    private const string Head = "Host: gw.test\n";

    public static TheoryData<string, string, int> Refused => new()
    {
        // Request smuggling: only one reading of the body length may exist.
        { "two Content-Length values", "POST /x HTTP/1.1\n" + Head + "Content-Length: 3\nContent-Length: 5\n\nhello", 400 },
        { "Content-Length repeated with the same value", "POST /x HTTP/1.1\n" + Head + "Content-Length: 5\nContent-Length: 5\n\nhello", 400 },
        { "Content-Length as a list", "POST /x HTTP/1.1\n" + Head + "Content-Length: 5, 5\n\nhello", 400 },
        { "Transfer-Encoding identity", "POST /x HTTP/1.1\n" + Head + "Transfer-Encoding: identity\n\nhello", 400 },
        { "chunked not the final coding", "POST /x HTTP/1.1\n" + Head + "Transfer-Encoding: chunked, gzip\n\n5\nhello\n0\n\n", 400 },
        { "unknown transfer coding", "POST /x HTTP/1.1\n" + Head + "Transfer-Encoding: xchunked\n\n5\nhello\n0\n\n", 400 },
        { "white space before the colon", "POST /x HTTP/1.1\n" + Head + "Transfer-Encoding : chunked\n\n0\n\n", 400 },
        { "Content-Length 2^63-1", "POST /x HTTP/1.1\n" + Head + "Content-Length: 9223372036854775807\n\nhello", 413 },
        { "Content-Length 2^63", "POST /x HTTP/1.1\n" + Head + "Content-Length: 9223372036854775808\n\nhello", 400 },
        { "negative Content-Length", "POST /x HTTP/1.1\n" + Head + "Content-Length: -1\n\nhello", 400 },
        { "non-numeric Content-Length", "POST /x HTTP/1.1\n" + Head + "Content-Length: abc\n\nhello", 400 },
        // Host: exactly one, one value (RFC 9112 §3.2).
        { "two Host headers", "GET /x HTTP/1.1\nHost: gw.test\nHost: evil.test\n\n", 400 },
        { "Host as a list", "GET /x HTTP/1.1\nHost: gw.test, evil.test\n\n", 400 },
        { "HTTP/1.1 without Host", "GET /x HTTP/1.1\n\n", 400 },
        // Header syntax.
        { "obsolete line folding", "GET /x HTTP/1.1\n" + Head + "X-A: a\n b\n\n", 400 },
        { "NUL in a value", "GET /x HTTP/1.1\n" + Head + "X-A: a\0b\n\n", 400 },
        { "CR alone in a value", "GET /x HTTP/1.1\n" + Head + "X-A: a\rb\n\n", 400 },
        { "non-ASCII in a name", "GET /x HTTP/1.1\n" + Head + "X-\u00e9: a\n\n", 400 },
        { "non-ASCII in a value", "GET /x HTTP/1.1\n" + Head + "X-A: \u00e9\n\n", 400 },
        { "HTTP/0.9 request line", "GET /x\n\n", 400 },
        { "HTTP/2.0 over HTTP/1 framing", "GET /x HTTP/2.0\n" + Head + "\n", 505 },
        // Limits (StandaloneGateway.ApplyLimits).
        { "request line over 8 KiB", "GET /" + new string('a', 9000) + " HTTP/1.1\n" + Head + "\n", 414 },
        { "one header over 32 KiB", "GET /x HTTP/1.1\n" + Head + "X-A: " + new string('a', 40_000) + "\n\n", 431 },
        { "header section over 32 KiB", "GET /x HTTP/1.1\n" + Head + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-{i}: {new string('a', 1000)}\n")) + "\n", 431 },
        { "101 headers", "GET /x HTTP/1.1\n" + Head + string.Concat(Enumerable.Range(0, 101).Select(i => $"X-{i}: a\n")) + "\n", 431 },
        // Methods and target forms the gateway does not proxy.
        { "TRACE", "TRACE /x HTTP/1.1\n" + Head + "\n", 405 },
        { "CONNECT authority-form", "CONNECT evil.test:443 HTTP/1.1\nHost: evil.test:443\n\n", 405 },
        { "CONNECT with a path", "CONNECT /x HTTP/1.1\n" + Head + "\n", 405 },
        { "absolute-form, authority equal to Host", "GET http://gw.test/x HTTP/1.1\n" + Head + "\n", 400 },
        { "absolute-form, authority other than Host", "GET http://evil.test/x HTTP/1.1\n" + Head + "\n", 400 },
        { "absolute-form, no Host", "GET http://evil.test/x HTTP/1.1\n\n", 400 },
        { "asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\n" + Head + "\n", 400 },
        { "asterisk-form GET", "GET * HTTP/1.1\n" + Head + "\n", 405 },
    };

    [Theory(Timeout = 60_000)]
    [MemberData(nameof(Refused))]
    public async Task Malformed_or_ambiguous_requests_are_refused_never_forwarded_and_the_gateway_stays_healthy(string name, string request, int status)
    {
        await using var backend = await EchoBackendAsync();
        await using var gateway = await StartAsync(backend);

        var response = await StatusOrClosedAsync(gateway.BaseAddress, request);

        Assert.True(response == status, $"{name}: expected {status}, got {response?.ToString() ?? "a closed connection"}");
        Assert.Empty(backend.Requests);
        await AssertHealthyAsync(gateway, backend);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("Content-Length: 3\nTransfer-Encoding: chunked")]
    [InlineData("Transfer-Encoding: chunked\nContent-Length: 3")]
    public async Task Content_length_with_chunked_forwards_only_the_chunked_reading_and_closes_the_connection(string framing)
    {
        // By Content-Length the body is "5\r\n" and "hello..." starts a second request; by chunked it is "hello".
        await using var backend = await EchoBackendAsync();
        await using var gateway = await StartAsync(backend);

        var responses = await ExchangeAllAsync(gateway.BaseAddress,
            $"POST /x HTTP/1.1\n{Head}{framing}\n\n5\nhello\n0\n\nGET /smuggled HTTP/1.1\n{Head}\n");

        // RFC 9112 §6.1: the server MUST close the connection after responding; the pipelined GET never runs.
        Assert.StartsWith("HTTP/1.1 200", responses, StringComparison.Ordinal);
        Assert.Equal(1, CountOccurrences(responses, "HTTP/1.1 "));
        var seen = Assert.Single(backend.Requests);
        Assert.Equal("/x", seen.RawTarget);
        Assert.False(seen.Headers.ContainsKey("Content-Length"));
        Assert.Contains("POST /x cl= te=chunked body=hello", responses, StringComparison.Ordinal);
        await AssertHealthyAsync(gateway, backend);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_plus_signed_content_length_reaches_the_backend_as_the_plain_number()
    {
        // Kestrel parses "+5" as 5; the upstream request carries its own, canonical Content-Length.
        await using var backend = await EchoBackendAsync();
        await using var gateway = await StartAsync(backend);

        var response = await RawHttp.SendAsync(gateway.BaseAddress, $"POST /x HTTP/1.1\n{Head}Content-Length: +5\nConnection: close\n\nhello");

        Assert.Equal(200, response.Status);
        Assert.Equal("POST /x cl=5 te= body=hello", response.Body);
        Assert.Equal("5", Assert.Single(backend.Requests).Headers["Content-Length"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Http10_without_host_is_served_only_by_routes_without_hosts()
    {
        // HTTP/1.0 does not require Host (nginx, hence Kong, accepts it too): no host can match, so only a route
        // without `hosts` takes it, and the upstream Host is the service's.
        await using var anyHost = await EchoBackendAsync();
        await using var hostBound = await EchoBackendAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - {name: bound, url: "{{hostBound.Url}}", routes: [{name: bound, paths: [/bound], hosts: [gw.test]}]}
            - {name: any, url: "{{anyHost.Url}}", routes: [{name: any, paths: [/any]}]}
            """);

        var bound = await RawHttp.SendAsync(gateway.BaseAddress, "GET /bound HTTP/1.0\n\n");
        var any = await RawHttp.SendAsync(gateway.BaseAddress, "GET /any HTTP/1.0\n\n");

        Assert.Equal(404, bound.Status);
        Assert.Empty(hostBound.Requests);
        Assert.Equal(200, any.Status);
        Assert.Equal($"127.0.0.1:{anyHost.Port}", Assert.Single(anyHost.Requests).Host);
    }

    [Fact(Timeout = 60_000)]
    public async Task Absolute_form_never_routes_on_either_authority_even_where_a_route_wants_the_host()
    {
        // A route bound to evil.test and one bound to gw.test: whichever authority the gateway believed, one of
        // them would be reached. Kestrel refuses a Host that differs from the URI's authority; the gateway
        // refuses absolute-form outright, so the two can never disagree.
        await using var evil = await EchoBackendAsync();
        await using var good = await EchoBackendAsync();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - {name: evil, url: "{{evil.Url}}", routes: [{name: evil, paths: [/], hosts: [evil.test]}]}
            - {name: good, url: "{{good.Url}}", routes: [{name: good, paths: [/], hosts: [gw.test]}]}
            """);

        var mismatch = await RawHttp.SendAsync(gateway.BaseAddress, "GET http://evil.test/x HTTP/1.1\nHost: gw.test\nConnection: close\n\n");
        var reverse = await RawHttp.SendAsync(gateway.BaseAddress, "GET http://gw.test/x HTTP/1.1\nHost: evil.test\nConnection: close\n\n");
        var same = await RawHttp.SendAsync(gateway.BaseAddress, "GET http://evil.test/x HTTP/1.1\nHost: evil.test\nConnection: close\n\n");

        Assert.Equal([400, 400, 400], new[] { mismatch.Status, reverse.Status, same.Status });
        Assert.Contains("origin form", same.Body, StringComparison.Ordinal);
        Assert.Empty(evil.Requests);
        Assert.Empty(good.Requests);
        Assert.Equal(200, (await RawHttp.SendAsync(gateway.BaseAddress, "GET /x HTTP/1.1\nHost: evil.test\nConnection: close\n\n")).Status);
        Assert.Single(evil.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Headers_trickled_slower_than_the_headers_timeout_get_the_connection_closed()
    {
        await using var backend = await EchoBackendAsync();
        await using var gateway = await StartAsync(backend, new Dictionary<string, string?> { ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02" });
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port);
        var stream = client.GetStream();
        var started = Stopwatch.StartNew();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Slow: "));

        // One byte every 200 ms, never finishing the header section, for up to 20 s.
        var closedAfter = TimeSpan.Zero;
        var answer = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[1024];
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            closedAfter = started.Elapsed;
        });
        while (!reading.IsCompleted && started.Elapsed < TimeSpan.FromSeconds(20))
        {
            try
            {
                await stream.WriteAsync("a"u8.ToArray());
            }
            catch (IOException)
            {
                break;
            }

            await Task.WhenAny(reading, Task.Delay(200));
        }

        await reading.WaitAsync(TimeSpan.FromSeconds(5));
        // Kestrel's heartbeat checks the timeout once a second; the server closed it, not our 20 s bound.
        Assert.InRange(closedAfter, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(6));
        Assert.True(answer.Length == 0 || answer.ToString().StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer.ToString());
        Assert.Empty(backend.Requests);
        await AssertHealthyAsync(gateway, backend);
    }

    private static Task<TestBackend> EchoBackendAsync() => TestBackend.StartAsync(async context =>
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        await context.Response.WriteAsync(
            $"{context.Request.Method} {context.Request.Path} cl={context.Request.ContentLength} te={context.Request.Headers.TransferEncoding} body={body}");
    });

    private static Task<TestGateway> StartAsync(TestBackend backend, IDictionary<string, string?>? settings = null) =>
        TestGateway.StartAsync($"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"{backend.Url}\", routes: [{{name: r, paths: [/], strip_path: false}}]}}\n", settings: settings);

    private static async Task AssertHealthyAsync(TestGateway gateway, TestBackend backend)
    {
        var before = backend.Requests.Count;
        var response = await gateway.Client.GetAsync("/after");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("GET /after cl= te= body=", await response.Content.ReadAsStringAsync());
        Assert.Equal(before + 1, backend.Requests.Count);
    }

    /// <summary>The status of the one response, or null when the server closed (or reset) the connection without one.</summary>
    private static async Task<int?> StatusOrClosedAsync(Uri gateway, string request)
    {
        try
        {
            return (await RawHttp.SendAsync(gateway, request)).Status;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Sends the bytes and reads everything the server sends until it closes the connection (bounded).</summary>
    private static async Task<string> ExchangeAllAsync(Uri gateway, string request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await client.ConnectAsync(IPAddress.Loopback, gateway.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Replace("\n", "\r\n", StringComparison.Ordinal)), timeout.Token);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return received.ToString();
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
