using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Observability;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>The access log line and the request metrics of proxied requests (issue 6: the correlation id appears in them; issue 8).</summary>
public sealed class AccessLogTests
{
    private const string ApiKey = "very-secret-api-key";

    private static string Config(string backendUrl) => $$"""
        _format_version: "3.0"
        services:
        - name: orders
          url: "{{backendUrl}}"
          routes:
          - name: orders-route
            paths: [/orders]
          plugins:
          - name: key-auth
        consumers:
        - username: alice
          keyauth_credentials:
          - key: {{ApiKey}}
        plugins:
        - name: correlation-id
          config: {header_name: X-Correlation-ID}
        """;

    [Fact(Timeout = 30_000)]
    public async Task A_proxied_request_logs_one_line_with_route_service_consumer_status_and_correlation_id_but_no_secret()
    {
        await using var backend = await TestBackend.StartAsync();
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), services => services.AddSingleton<ILoggerProvider>(logs));

        var response = await gateway.Client.GetAsync($"/orders/42?apikey={ApiKey}&page=2");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var correlationId = Assert.Single(backend.Requests).Headers["X-Correlation-ID"];
        var line = Assert.Single(logs.In(RequestTelemetry.AccessLogCategory));
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Equal("GET", line.Values["Method"]);
        Assert.Equal("/orders/42", line.Values["Path"]);
        Assert.Equal(200, line.Values["Status"]);
        Assert.Equal("orders-route", line.Values["Route"]);
        Assert.Equal("orders", line.Values["Service"]);
        Assert.Equal("alice", line.Values["Consumer"]);
        Assert.Equal("127.0.0.1", line.Values["ClientIp"]);
        Assert.Equal(correlationId, line.Values["CorrelationId"]);
        Assert.Matches("^[0-9a-f]{32}$", (string)line.Values["RequestId"]!);
        Assert.True((double)line.Values["DurationMs"]! > 0);
        Assert.True(line.Values["UpstreamMs"] is double upstream && upstream > 0 && upstream <= (double)line.Values["DurationMs"]!);
        Assert.DoesNotContain(ApiKey, line.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(ApiKey, StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task Rejected_and_unrouted_requests_are_logged_with_their_status_and_no_upstream_time()
    {
        await using var backend = await TestBackend.StartAsync();
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), services => services.AddSingleton<ILoggerProvider>(logs));

        var unauthorized = await gateway.Client.GetAsync("/orders/1");
        await Problem.AssertAsync(unauthorized, System.Net.HttpStatusCode.Unauthorized);
        using var problem = System.Text.Json.JsonDocument.Parse(await unauthorized.Content.ReadAsStringAsync());
        var missing = await gateway.Client.GetAsync("/nowhere");

        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Empty(backend.Requests);
        var lines = logs.In(RequestTelemetry.AccessLogCategory).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(401, lines[0].Values["Status"]);
        Assert.Equal("orders-route", lines[0].Values["Route"]);
        Assert.Null(lines[0].Values["UpstreamMs"]);
        Assert.Null(lines[0].Values["Consumer"]);
        Assert.Equal(problem.RootElement.GetProperty("request_id").GetString(), lines[0].Values["RequestId"]);
        Assert.Equal(problem.RootElement.GetProperty("correlation_id").GetString(), lines[0].Values["CorrelationId"]);
        Assert.Equal(404, lines[1].Values["Status"]);
        Assert.Null(lines[1].Values["Route"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Bytes_of_chunked_bodies_are_counted_as_they_stream_and_declared_lengths_are_taken_as_they_are()
    {
        // A backend that echoes the request body without a Content-Length (chunked).
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            await context.Response.StartAsync();
            await context.Request.Body.CopyToAsync(context.Response.Body);
        });
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url), services => services.AddSingleton<ILoggerProvider>(logs));
        var payload = new byte[150_000];
        Random.Shared.NextBytes(payload);

        using var chunked = new HttpRequestMessage(HttpMethod.Post, $"/orders?apikey={ApiKey}") { Content = new StreamContent(new MemoryStream(payload)) };
        chunked.Headers.TransferEncodingChunked = true;
        var echoed = await gateway.Client.SendAsync(chunked);
        var sized = await gateway.Client.PostAsync($"/orders?apikey={ApiKey}", new ByteArrayContent(payload, 0, 1000));

        Assert.Equal(payload, await echoed.Content.ReadAsByteArrayAsync());
        Assert.True(echoed.Headers.TransferEncodingChunked);
        Assert.Equal(1000, (await sized.Content.ReadAsByteArrayAsync()).Length);
        var lines = logs.In(RequestTelemetry.AccessLogCategory).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(150_000L, lines[0].Values["BytesIn"]);
        Assert.Equal(150_000L, lines[0].Values["BytesOut"]);
        Assert.Equal(1000L, lines[1].Values["BytesIn"]);
        Assert.Equal(1000L, lines[1].Values["BytesOut"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Gateway_AccessLog_false_turns_the_line_off()
    {
        await using var backend = await TestBackend.StartAsync();
        var logs = new LogCapture();
        await using var gateway = await TestGateway.StartAsync(
            Config(backend.Url), services => services.AddSingleton<ILoggerProvider>(logs), new Dictionary<string, string?> { ["Gateway:AccessLog"] = "false" });

        var response = await gateway.Client.GetAsync($"/orders/1?apikey={ApiKey}");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(logs.In(RequestTelemetry.AccessLogCategory));
        Assert.NotEmpty(logs.Entries);
    }

    [Fact(Timeout = 30_000)]
    public async Task Request_and_upstream_durations_are_recorded_by_route_service_and_status_class()
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));
        var meter = gateway.Services.GetRequiredService<GatewayMetrics>().Meter;
        var recorded = new System.Collections.Concurrent.ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            recorded.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        listener.Start();

        await gateway.Client.GetAsync($"/orders/1?apikey={ApiKey}");
        await gateway.Client.GetAsync("/orders/1");

        var durations = recorded.Where(r => r.Instrument == "gateway.request.duration").ToList();
        Assert.Equal(2, durations.Count);
        Assert.All(durations, d => Assert.Equal("orders-route", d.Tags["gateway.route"]));
        Assert.All(durations, d => Assert.Equal("orders", d.Tags["gateway.service"]));
        Assert.Equal(["2xx", "4xx"], durations.Select(d => (string)d.Tags["http.response.status_class"]!));
        var upstream = Assert.Single(recorded, r => r.Instrument == "gateway.upstream.duration");
        Assert.InRange(upstream.Value, double.Epsilon, durations[0].Value);
    }
}
