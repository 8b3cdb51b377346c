using System.Diagnostics;
using OpenTelemetry.Trace;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>OpenTelemetry on a proxied request (issue 8): spans, W3C context on the backend request, and the Prometheus scrape.</summary>
public sealed class TracingAndMetricsTests
{
    private const string ApiKey = "tracing-test-key";
    private const string AdminKey = "tracing-admin-key";

    private static string Config(string backendUrl) => $$"""
        _format_version: "3.0"
        services:
        - name: traced-service
          url: "{{backendUrl}}"
          routes:
          - name: traced-route
            paths: [/traced]
          plugins:
          - name: key-auth
        consumers:
        - username: tracy
          id: 5d0f6a3e-8a0c-4a59-9d0e-3f5b8d7e1a21
          keyauth_credentials:
          - key: {{ApiKey}}
        """;

    private static Task<TestGateway> StartAsync(string backendUrl, List<Activity> exported) => TestGateway.StartAsync(
        Config(backendUrl),
        services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(exported)),
        new Dictionary<string, string?> { ["Gateway:Tracing:Enabled"] = "true", ["Gateway:Admin:Keys:0"] = AdminKey });

    [Fact(Timeout = 30_000)]
    public async Task A_request_gets_a_server_span_with_authentication_and_upstream_children_and_the_backend_sees_its_trace()
    {
        await using var backend = await TestBackend.StartAsync();
        var exported = new List<Activity>();
        await using var gateway = await StartAsync(backend.Url, exported);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/traced/a");
        request.Headers.Add("apikey", ApiKey);
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var traceparent = Assert.Single(backend.Requests).Headers["traceparent"];
        var parts = traceparent.Split('-');
        Assert.Equal(4, parts.Length);
        var traceId = parts[1];
        // The test client's span, the gateway's server span and its two children, HttpClient's upstream span and
        // the in-process backend's server span (one process: the tracer sees both sides).
        var spans = await SpansOfTraceAsync(exported, traceId, expected: 6);
        var upstream = Assert.Single(spans, s => s.OperationName == "gateway.upstream");
        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server && s.SpanId == upstream.ParentSpanId);
        Assert.Equal("traced-route", server.GetTagItem("gateway.route"));
        Assert.Equal("traced-service", server.GetTagItem("gateway.service"));
        Assert.Equal("5d0f6a3e-8a0c-4a59-9d0e-3f5b8d7e1a21", server.GetTagItem("gateway.consumer.id"));
        var auth = Assert.Single(spans, s => s.OperationName == "gateway.authenticate");
        Assert.Equal("key-auth", auth.GetTagItem("gateway.plugin"));
        Assert.Equal(server.SpanId, auth.ParentSpanId);
        var client = Assert.Single(spans, s => s.Kind == ActivityKind.Client && s.ParentSpanId == upstream.SpanId);
        // The backend's parent is the upstream call's HTTP span: the trace continues across the hop.
        Assert.Equal(client.SpanId.ToHexString(), parts[2]);
        Assert.DoesNotContain(spans.SelectMany(s => s.TagObjects), t => t.Value is string v && v.Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task An_incoming_traceparent_is_continued_and_a_rejected_request_has_no_upstream_span()
    {
        await using var backend = await TestBackend.StartAsync();
        var exported = new List<Activity>();
        await using var gateway = await StartAsync(backend.Url, exported);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();

        using var request = new HttpRequestMessage(HttpMethod.Get, "/traced/b");
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(backend.Requests);
        var spans = await SpansOfTraceAsync(exported, traceId, expected: 2);
        Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        Assert.Single(spans, s => s.OperationName == "gateway.authenticate");
        Assert.DoesNotContain(spans, s => s.OperationName == "gateway.upstream");
    }

    [Fact(Timeout = 30_000)]
    public async Task The_metrics_endpoint_serves_request_histograms_in_prometheus_text()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await StartAsync(backend.Url, []);
        using var ok = new HttpRequestMessage(HttpMethod.Get, "/traced/c");
        ok.Headers.Add("apikey", ApiKey);
        await gateway.Client.SendAsync(ok);
        await gateway.Client.GetAsync("/traced/c");

        using var scrape = new HttpRequestMessage(HttpMethod.Get, "/_gateway/metrics");
        scrape.Headers.Add("X-Gateway-Admin-Key", AdminKey);
        var response = await gateway.Client.SendAsync(scrape);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("# TYPE gateway_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("gateway_request_duration_seconds_count{gateway_route=\"traced-route\",gateway_service=\"traced-service\",http_response_status_class=\"2xx\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("gateway_request_duration_seconds_count{gateway_route=\"traced-route\",gateway_service=\"traced-service\",http_response_status_class=\"4xx\"} 1", text, StringComparison.Ordinal);
        Assert.Matches("gateway_request_duration_seconds_bucket\\{gateway_route=\"traced-route\",gateway_service=\"traced-service\",http_response_status_class=\"2xx\",le=\"\\+Inf\"\\} 1", text);
        Assert.Contains("gateway_upstream_duration_seconds_count{gateway_route=\"traced-route\",gateway_service=\"traced-service\",http_response_status_class=\"2xx\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("gateway_config_loaded 1", text, StringComparison.Ordinal);
    }

    /// <summary>The spans of one trace, once at least <paramref name="expected"/> have ended (the server span ends after the response).</summary>
    private static async Task<List<Activity>> SpansOfTraceAsync(List<Activity> exported, string traceId, int expected)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            List<Activity> spans;
            lock (exported)
            {
                spans = exported.Where(a => a.TraceId.ToHexString() == traceId).ToList();
            }

            if (spans.Count >= expected || deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                return spans;
            }

            await Task.Delay(20);
        }
    }
}
