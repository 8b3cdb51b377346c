using System.Net;
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
}
