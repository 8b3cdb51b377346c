using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong's correlation-id, ip-restriction and request-size-limiting on real requests: what the client gets and what reaches the backend.</summary>
public sealed class RequestGuardPluginTests
{
    private const int Limit = 1024;

    private static string Config(string backendUrl, string correlation = "{header_name: X-Correlation-ID, echo_downstream: true}") => $$"""
        _format_version: "3.0"
        services:
        - name: s
          url: "{{backendUrl}}"
          routes:
          - name: ip
            paths: [/ip]
          - name: size
            paths: [/size]
          - name: strict
            paths: [/strict]
          - name: plain
            paths: [/plain]
        plugins:
        - name: correlation-id
          config: {{correlation}}
        - name: ip-restriction
          route: ip
          config: {allow: ["2001:db8::/32", 127.0.0.1, 10.0.0.0/8], deny: ["2001:db8:bad::/48"]}
        - name: request-size-limiting
          route: size
          config: {allowed_payload_size: 1, size_unit: kilobytes}
        - name: request-size-limiting
          route: strict
          config: {allowed_payload_size: 1, size_unit: kilobytes, require_content_length: true}
        """;

    private static Dictionary<string, string?> TrustLoopbackProxy() => new() { ["Gateway:TrustedProxies:0"] = "127.0.0.1/32" };

    /// <summary>A backend that reads the whole body and records how many bytes arrived (also when the gateway aborts the upload).</summary>
    private static Task<TestBackend> CountingBackendAsync(ConcurrentQueue<long> received) => TestBackend.StartAsync(async context =>
    {
        long total = 0;
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException)
        {
            // The gateway stopped the upload; what arrived so far is what counts.
        }
        finally
        {
            received.Enqueue(total);
        }

        if (!context.RequestAborted.IsCancellationRequested)
        {
            await context.Response.WriteAsync($"received {total}");
        }
    });

    [Fact(Timeout = 60_000)]
    public async Task Correlation_ids_are_distinct_per_request_kept_when_valid_and_echoed()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));

        var first = await gateway.Client.GetAsync("/plain/a");
        var second = await gateway.Client.GetAsync("/plain/b");
        using var valid = new HttpRequestMessage(HttpMethod.Get, "/plain/c");
        valid.Headers.Add("X-Correlation-ID", "client-chosen-42");
        var kept = await gateway.Client.SendAsync(valid);
        using var tooLong = new HttpRequestMessage(HttpMethod.Get, "/plain/d");
        tooLong.Headers.Add("X-Correlation-ID", new string('a', 500));
        var replaced = await gateway.Client.SendAsync(tooLong);

        var seen = backend.Requests.ToArray();
        Assert.Equal(4, seen.Length);
        var ids = seen.Select(r => r.Headers["X-Correlation-ID"]).ToArray();
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", ids[0]);
        Assert.Matches("^[0-9a-f-]{36}$", ids[1]);
        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal("client-chosen-42", ids[2]);
        Assert.Matches("^[0-9a-f-]{36}$", ids[3]);
        Assert.Equal(ids[0], first.Headers.GetValues("X-Correlation-ID").Single());
        Assert.Equal(ids[1], second.Headers.GetValues("X-Correlation-ID").Single());
        Assert.Equal("client-chosen-42", kept.Headers.GetValues("X-Correlation-ID").Single());
        Assert.Equal(ids[3], replaced.Headers.GetValues("X-Correlation-ID").Single());
    }

    [Fact(Timeout = 60_000)]
    public async Task Counter_generator_is_not_echoed_by_default_and_the_id_is_in_problem_json()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{generator: \"uuid#counter\"}"), settings: TrustLoopbackProxy());

        var a = await gateway.Client.GetAsync("/plain/a");
        var b = await gateway.Client.GetAsync("/plain/b");
        using var denied = new HttpRequestMessage(HttpMethod.Get, "/ip/x");
        denied.Headers.Add("X-Forwarded-For", "203.0.113.7");
        denied.Headers.Add("Kong-Request-ID", "trace-me-1");
        var rejected = await gateway.Client.SendAsync(denied);

        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.False(a.Headers.Contains("Kong-Request-ID"));
        var ids = backend.Requests.Select(r => r.Headers["Kong-Request-ID"]).ToArray();
        Assert.Equal(2, ids.Length);
        var (uuidA, counterA) = (ids[0].Split('#')[0], long.Parse(ids[0].Split('#')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(uuidA + "#" + (counterA + 1), ids[1]);
        Assert.Equal("Your IP address is not allowed", await Problem.AssertAsync(rejected, HttpStatusCode.Forbidden));
        using var json = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync());
        Assert.Equal("trace-me-1", json.RootElement.GetProperty("correlation_id").GetString());
    }

    [Theory(Timeout = 60_000)]
    [InlineData(null, HttpStatusCode.OK)] // the loopback peer itself, 127.0.0.1
    [InlineData("2001:db8::5", HttpStatusCode.OK)]
    [InlineData("2001:db8:ffff:1::9", HttpStatusCode.OK)]
    [InlineData("::ffff:10.20.30.40", HttpStatusCode.OK)] // IPv4-mapped, matched as 10.20.30.40
    [InlineData("2001:db8:bad::1", HttpStatusCode.Forbidden)] // in allow and in deny: deny wins
    [InlineData("2001:db9::1", HttpStatusCode.Forbidden)]
    [InlineData("::1", HttpStatusCode.Forbidden)]
    [InlineData("192.0.2.1", HttpStatusCode.Forbidden)]
    public async Task Ip_restriction_decides_on_the_trusted_client_address_including_IPv6(string? forwardedFor, HttpStatusCode expected)
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), settings: TrustLoopbackProxy());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/ip/x");
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        var response = await gateway.Client.SendAsync(request);

        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Single(backend.Requests);
        }
        else
        {
            Assert.Equal("Your IP address is not allowed", await Problem.AssertAsync(response, expected));
            Assert.Empty(backend.Requests);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Ip_restriction_matches_a_real_IPv6_peer_on_an_IPv6_listener()
    {
        await using var backend = await TestBackend.StartAsync();
        var onIpv6 = new Dictionary<string, string?> { ["urls"] = "http://[::1]:0" };
        var ipv6Allowed = Config(backend.Url).Replace("allow: [\"2001:db8::/32\", 127.0.0.1, 10.0.0.0/8]", "allow: [\"::1/128\"]", StringComparison.Ordinal);
        await using var denying = await TestGateway.StartAsync(Config(backend.Url), settings: onIpv6);
        await using var allowing = await TestGateway.StartAsync(ipv6Allowed, settings: onIpv6);

        var denied = await denying.Client.GetAsync("/ip/x");
        var allowed = await allowing.Client.GetAsync("/ip/x");

        Assert.Equal("[::1]", denying.BaseAddress.Host);
        await Problem.AssertAsync(denied, HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Single(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Forwarded_for_from_an_untrusted_peer_cannot_unlock_ip_restriction()
    {
        await using var backend = await TestBackend.StartAsync();
        var yaml = Config(backend.Url).Replace("allow: [\"2001:db8::/32\", 127.0.0.1, 10.0.0.0/8]", "allow: [\"2001:db8::/32\"]", StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(yaml);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/ip/x");
        request.Headers.Add("X-Forwarded-For", "2001:db8::5");
        var response = await gateway.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Oversize_content_length_is_413_before_forwarding_and_a_body_at_the_limit_passes()
    {
        var received = new ConcurrentQueue<long>();
        await using var backend = await CountingBackendAsync(received);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));

        var over = await gateway.Client.PostAsync("/size/up", new ByteArrayContent(new byte[Limit + 1]));
        Assert.Equal("Request size limit exceeded", await Problem.AssertAsync(over, HttpStatusCode.RequestEntityTooLarge));
        Assert.Empty(backend.Requests);

        var atLimit = await gateway.Client.PostAsync("/size/up", new ByteArrayContent(new byte[Limit]));
        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        Assert.Equal($"received {Limit}", await atLimit.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task Oversize_chunked_body_is_413_and_the_backend_never_receives_more_than_the_limit()
    {
        var received = new ConcurrentQueue<long>();
        await using var backend = await CountingBackendAsync(received);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));

        var small = await gateway.Client.PostAsync("/size/up", new ChunkedContent(1000, 100));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal("received 1000", await small.Content.ReadAsStringAsync());

        var over = await gateway.Client.PostAsync("/size/up", new ChunkedContent(8 * Limit, 256));
        Assert.Equal("Request size limit exceeded", await Problem.AssertAsync(over, HttpStatusCode.RequestEntityTooLarge));

        // The backend may or may not have seen the aborted request's headers; when it did, it got at most the limit.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (received.Count < backend.Requests.Count && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        Assert.Equal(backend.Requests.Count, received.Count);
        Assert.All(received, n => Assert.InRange(n, 0, Limit));
    }

    [Fact(Timeout = 60_000)]
    public async Task Require_content_length_answers_411_to_a_chunked_body()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));

        var chunked = await gateway.Client.PostAsync("/strict/up", new ChunkedContent(10, 10));
        var withLength = await gateway.Client.PostAsync("/strict/up", new ByteArrayContent(new byte[10]));
        var get = await gateway.Client.GetAsync("/strict/up");

        Assert.Equal("A valid Content-Length header is required", await Problem.AssertAsync(chunked, HttpStatusCode.LengthRequired));
        Assert.Equal(HttpStatusCode.OK, withLength.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(2, backend.Requests.Count);
    }

    /// <summary>A body of unknown length, so HttpClient sends it chunked, written in flushed pieces.</summary>
    private sealed class ChunkedContent(int length, int chunk) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var piece = new byte[chunk];
            Array.Fill(piece, (byte)'x');
            for (var sent = 0; sent < length; sent += chunk)
            {
                await stream.WriteAsync(piece.AsMemory(0, Math.Min(chunk, length - sent)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
