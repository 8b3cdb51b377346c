using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// The SSRF guard decides on the address resolved at connect time. No test here sends a packet to
/// a non-loopback address: denied addresses are refused before any connect is attempted.
/// </summary>
public sealed class SsrfGuardTests
{
    [Fact(Timeout = 60_000)]
    public async Task A_name_resolving_to_the_metadata_endpoint_is_refused_with_502()
    {
        var resolver = new FakeResolver(host => host == "metadata.test" ? [IPAddress.Parse("169.254.169.254")] : []);
        await using var gateway = await TestGateway.StartAsync(
            "_format_version: \"3.0\"\nservices:\n- {name: s, url: \"http://metadata.test/latest/meta-data\", routes: [{name: r, paths: [/steal]}]}\n",
            s => s.AddSingleton<IUpstreamResolver>(resolver));

        var response = await gateway.Client.GetAsync("/steal");

        var detail = await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
        Assert.Contains("upstream address policy", detail, StringComparison.Ordinal);
        Assert.Equal(["metadata.test"], resolver.Lookups);
    }

    [Fact(Timeout = 60_000)]
    public async Task With_loopback_denied_a_loopback_backend_is_never_reached()
    {
        await using var backend = await TestBackend.StartAsync();
        var resolver = new FakeResolver(_ => [IPAddress.Loopback, IPAddress.IPv6Loopback]);
        await using var gateway = await TestGateway.StartAsync(
            $"_format_version: \"3.0\"\nservices:\n- {{name: a, url: \"{backend.Url}\", routes: [{{name: a, paths: [/ip]}}]}}\n- {{name: b, url: \"http://local.test:{backend.Port}\", routes: [{{name: b, paths: [/name]}}]}}\n",
            s => s.AddSingleton<IUpstreamResolver>(resolver),
            new Dictionary<string, string?> { ["Gateway:Upstreams:AllowLoopback"] = "false" });

        await Problem.AssertAsync(await gateway.Client.GetAsync("/ip"), HttpStatusCode.BadGateway);
        await Problem.AssertAsync(await gateway.Client.GetAsync("/name"), HttpStatusCode.BadGateway);

        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_decision_is_made_per_connection_on_the_address_resolved_then()
    {
        // The backend closes every connection, so each request connects (and resolves) anew.
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync("ok");
        });
        var answer = IPAddress.Loopback;
        var resolver = new FakeResolver(_ => [answer]);
        await using var gateway = await TestGateway.StartAsync(
            $"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"http://rebind.test:{backend.Port}\", routes: [{{name: r, paths: [/]}}]}}\n",
            s => s.AddSingleton<IUpstreamResolver>(resolver));

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/first")).StatusCode);
        // The name now resolves to a denied address; a new connection must be refused.
        answer = IPAddress.Parse("169.254.169.254");

        await Problem.AssertAsync(await gateway.Client.GetAsync("/second"), HttpStatusCode.BadGateway);
        Assert.Single(backend.Requests);
        Assert.Equal(2, resolver.Lookups.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dns_rebinding_between_lookups_is_caught_at_each_connect()
    {
        // The gateway never resolves at config time; the first lookup stands for the answer the operator saw.
        // Then the name rebinds to the metadata endpoint, to 0.0.0.0 (which Linux connects to the local host),
        // and back. The backend closes every connection, so each request resolves and connects anew.
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync("ok");
        });
        IPAddress[] answers = [IPAddress.Loopback, IPAddress.Parse("169.254.169.254"), IPAddress.Any, IPAddress.Loopback];
        var calls = 0;
        var resolver = new FakeResolver(_ => [answers[Math.Min(Interlocked.Increment(ref calls), answers.Length) - 1]]);
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(
            $"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"http://rebind.test:{backend.Port}\", routes: [{{name: r, paths: [/]}}]}}\n",
            s => s.AddSingleton<IUpstreamResolver>(resolver).AddSingleton<ILoggerProvider>(logs));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < answers.Length; i++)
        {
            statuses.Add((await gateway.Client.GetAsync($"/r{i}")).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadGateway, HttpStatusCode.BadGateway, HttpStatusCode.OK], statuses);
        Assert.Equal(["/r0", "/r3"], backend.Requests.Select(r => r.RawTarget));
        Assert.Equal(4, calls);
        Assert.Equal(["link-local", "unspecified, multicast or broadcast"], Denied(logs, "rebind.test"));
    }

    /// <summary>
    /// Every IdP fetch goes through the guard. The names resolve to loopback first (denied here), where a
    /// listener counts connections, so a guard that let one through is seen without a packet leaving the host.
    /// </summary>
    [Theory(Timeout = 60_000)]
    [InlineData("issuer")]
    [InlineData("jwks_uri")]
    public async Task Openid_connect_key_fetches_to_denied_addresses_are_refused_and_the_request_fails_closed(string source)
    {
        await using var listener = await ConnectionCounter.StartAsync();
        await using var backend = await TestBackend.StartAsync();
        var issuer = $"https://idp.test:{listener.Port}/tenant/v2.0";
        var keys = source == "issuer" ? $"issuer: \"{issuer}\"" : $"jwks_uri: \"https://keys.test:{listener.Port}/keys\", issuers_allowed: [\"{issuer}\"]";
        var resolver = new FakeResolver(_ => DeniedAnswers);
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(
            $"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"{backend.Url}\", routes: [{{name: r, paths: [/api], plugins: [{{name: openid-connect, config: {{{keys}}}}}]}}]}}\n",
            s => s.AddSingleton<IUpstreamResolver>(resolver).AddSingleton<ILoggerProvider>(logs),
            DenyAll);
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var token = TestIdentityProvider.Sign(new JsonObject { ["iss"] = issuer, ["sub"] = "s", ["aud"] = "a", ["iat"] = now, ["exp"] = now + 600 });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api");
        request.Headers.Authorization = new("Bearer", token);

        var response = await gateway.Client.SendAsync(request);

        // As with an unreachable IdP: a well-formed token cannot be checked, so 503 (never a pass).
        await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Empty(backend.Requests);
        Assert.Equal(0, listener.Accepted);
        Assert.Equal(["loopback", "link-local", "private network"], Denied(logs, source == "issuer" ? "idp.test" : "keys.test").Distinct());
    }

    [Fact(Timeout = 60_000)]
    public async Task Active_health_probes_to_denied_addresses_are_refused_and_take_the_target_out()
    {
        await using var listener = await ConnectionCounter.StartAsync();
        var resolver = new FakeResolver(_ => DeniedAnswers);
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync($$"""
            _format_version: "3.0"
            services:
            - {name: s, host: pool, routes: [{name: r, paths: [/api]}]}
            upstreams:
            - name: pool
              targets: [{target: "probe.test:{{listener.Port}}"}]
              healthchecks:
                active:
                  http_path: /health
                  timeout: 1
                  healthy: {interval: 0.1, successes: 1}
                  unhealthy: {interval: 0.1, tcp_failures: 1}
            """,
            s => s.AddSingleton<IUpstreamResolver>(resolver).AddSingleton<ILoggerProvider>(logs),
            DenyAll);

        // Until a probe ran, a request is refused at connect (502); once the refused probe took the target
        // out, the balancer has no peer (503), as for any target that cannot be connected to.
        var started = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage response;
        while ((response = await gateway.Client.GetAsync("/api")).StatusCode != HttpStatusCode.ServiceUnavailable)
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), "the target never left rotation");
            await Task.Delay(50);
        }

        var detail = await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Contains("failure to get a peer", detail, StringComparison.Ordinal);
        Assert.Equal(0, listener.Accepted);
        Assert.Equal(["loopback", "link-local", "private network"], Denied(logs, "probe.test").Distinct());
    }

    /// <summary>Loopback first (a guard regression connects to the local listener), then link-local and private.</summary>
    private static readonly IPAddress[] DeniedAnswers = [IPAddress.Loopback, IPAddress.Parse("169.254.169.254"), IPAddress.Parse("10.20.30.40")];

    private static readonly Dictionary<string, string?> DenyAll = new()
    {
        ["Gateway:Upstreams:AllowLoopback"] = "false",
        ["Gateway:Upstreams:AllowPrivateNetworks"] = "false",
    };

    /// <summary>The reasons of the guard's "address denied" events for one host, in order.</summary>
    private static List<string> Denied(LogCapture logs, string host) => logs.Entries
        .Where(e => e.Category == typeof(UpstreamAddressPolicy).Namespace + ".UpstreamConnector" && Equals(e.Values.GetValueOrDefault("Host"), host))
        .Select(e => (string)e.Values["Reason"]!)
        .ToList();

    /// <summary>A loopback TCP listener that only counts the connections it accepts.</summary>
    private sealed class ConnectionCounter : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;
        private int _accepted;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        public static Task<ConnectionCounter> StartAsync()
        {
            var counter = new ConnectionCounter();
            counter._listener.Start();
            counter._loop = counter.AcceptAsync();
            return Task.FromResult(counter);
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    using var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
