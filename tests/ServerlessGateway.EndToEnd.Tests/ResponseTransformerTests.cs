using System.Net;
using System.Text;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Observability;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong's response-transformer on real responses from a loopback backend: what the client gets.</summary>
public sealed class ResponseTransformerTests
{
    private static string Config(string backendUrl, string pluginConfig, string extraPlugins = "") => $$"""
        _format_version: "3.0"
        services:
        - name: svc
          url: "{{backendUrl}}"
          routes:
          - name: rt
            paths: [/api]
          plugins:
          - name: response-transformer
            config: {{pluginConfig}}
        {{extraPlugins}}
        """;

    /// <summary>A backend answering every request with <paramref name="body"/>, chunked unless <paramref name="withLength"/>.</summary>
    private static Task<TestBackend> JsonBackendAsync(string body, string contentType = "application/json", bool withLength = true, string? contentEncoding = null) =>
        TestBackend.StartAsync(async context =>
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.ContentType = contentType;
            if (contentEncoding is not null)
            {
                context.Response.Headers.ContentEncoding = contentEncoding;
            }

            if (withLength)
            {
                context.Response.ContentLength = bytes.Length;
            }

            // Two writes with a flush between: without a length the client sees real chunks.
            await context.Response.Body.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await context.Response.Body.FlushAsync();
            await context.Response.Body.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        });

    private static CounterRecorder PassThroughCounter(TestGateway gateway) =>
        new(gateway.Services.GetRequiredService<GatewayMetrics>().Meter, "gateway.response_transformer.passthrough");

    [Fact(Timeout = 60_000)]
    public async Task Header_operations_apply_in_Kongs_order_remove_rename_replace_add_append()
    {
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            context.Response.Headers["X-Gone"] = "bye";
            context.Response.Headers["X-Old"] = "original";
            context.Response.Headers["X-Kept"] = "mine";
            context.Response.Headers["X-Multi"] = "one";
            await context.Response.WriteAsync("plain");
        });
        // rename X-Old -> X-New, then replace X-New (present only after the rename), add X-Old (absent after the rename),
        // add X-Kept (present: untouched), append X-Multi and X-Fresh; remove X-Gone; replace X-Absent does nothing.
        const string plugin = """{remove: {headers: [x-gone]}, rename: {headers: ["x-old:x-new"]}, replace: {headers: ["x-new:replaced", "x-absent:nope"]}, add: {headers: ["x-old:added", "x-kept:nope", "x-url:http://a:1/b"]}, append: {headers: ["x-multi:two", "x-fresh:one"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        var response = await gateway.Client.GetAsync("/api/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Gone"));
        Assert.Equal(["replaced"], response.Headers.GetValues("X-New"));
        Assert.Equal(["added"], response.Headers.GetValues("X-Old"));
        Assert.Equal(["mine"], response.Headers.GetValues("X-Kept"));
        Assert.Equal(["http://a:1/b"], response.Headers.GetValues("X-Url"));
        Assert.False(response.Headers.Contains("X-Absent"));
        Assert.Equal(["one", "two"], response.Headers.GetValues("X-Multi"));
        Assert.Equal(["one"], response.Headers.GetValues("X-Fresh"));
        Assert.Equal("plain", await response.Content.ReadAsStringAsync());
    }

    [Theory(Timeout = 60_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Json_body_operations_apply_in_Kongs_order_with_json_types_and_a_corrected_Content_Length(bool withLength)
    {
        await using var backend = await JsonBackendAsync("""{"gone":1,"old":"o","kept":"k","multi":"1","n":{"deep":true},"count":7,"flag":false}""", withLength: withLength);
        // remove gone; rename old -> new; replace new (present after the rename) and count as a number, absent stays absent;
        // add old (absent after the rename), kept (present: untouched), typed enabled and ratio;
        // append multi (a string becomes an array), fresh (absent: a new array), count (a number: Kong replaces it with an array).
        const string plugin = """
            {remove: {json: [gone]}, rename: {json: ["old:new"]},
             replace: {json: ["new:r", "absent:nope", "count:8"], json_types: [string, string, number]},
             add: {json: ["old:a b", "kept:nope", "enabled:true", "ratio:0.5"], json_types: [string, string, boolean, number]},
             append: {json: ["multi:2", "fresh:x", "count:9"], json_types: [string, string, number]}}
            """;
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin.ReplaceLineEndings(" ")));

        var response = await gateway.Client.GetAsync("/api/x");
        var body = await response.Content.ReadAsStringAsync();

        const string expected = """{"kept":"k","multi":["1","2"],"n":{"deep":true},"count":[9],"flag":false,"new":"r","old":"a b","enabled":true,"ratio":0.5,"fresh":["x"]}""";
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, body);
        Assert.Equal(Encoding.UTF8.GetByteCount(expected), response.Content.Headers.ContentLength);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
    }

    [Fact(Timeout = 60_000)]
    public async Task Json_paths_filter_sensitive_fields_in_nested_objects_and_arrays_and_replace_with_a_path()
    {
        await using var backend = await JsonBackendAsync("""
            {"user":{"name":"ann","ssn":"123-45-6789","password":"u"},
             "accounts":[{"id":1,"password":"p1"},{"id":2,"creds":{"password":"p2","kind":"basic"}}],
             "items":[{"secret":"s1","v":1},{"v":2},{"secret":"s3","v":3}],
             "secret":"top-level stays"}
            """, contentType: "application/vnd.api+json; charset=utf-8");
        const string plugin = """{remove: {json: ["$.user.ssn", "$..password", "$.items[*].secret"]}, replace: {json: ["$.user.name:REDACTED", "$.accounts[*].id:0", "$.nothing.here:x"], json_types: [string, number]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        var response = await gateway.Client.GetAsync("/api/x");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(
            """{"user":{"name":"REDACTED"},"accounts":[{"id":0},{"id":0,"creds":{"kind":"basic"}}],"items":[{"v":1},{"v":2},{"v":3}],"secret":"top-level stays"}""",
            body);
        Assert.Equal("application/vnd.api+json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
    }

    [Theory(Timeout = 60_000)]
    [InlineData("text/plain", null, "gone=1&keep=2", "content_type")]
    [InlineData("application/json", "gzip", """{"gone":1}""", "content_encoding")]
    [InlineData("application/json", null, """{"gone":1,""", null)]
    [InlineData("application/json", null, """{"gone":1,"gone":2}""", null)]
    public async Task Bodies_that_are_not_editable_JSON_pass_through_byte_for_byte(string contentType, string? contentEncoding, string body, string? reason)
    {
        await using var backend = await JsonBackendAsync(body, contentType, contentEncoding: contentEncoding);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {json: [gone]}, add: {json: ["x:1"]}}"""));
        using var passedThrough = PassThroughCounter(gateway);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/x");

        var response = await gateway.Client.SendAsync(request);
        var received = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Encoding.UTF8.GetBytes(body), received);
        Assert.Equal(contentEncoding, response.Content.Headers.ContentEncoding.FirstOrDefault());
        Assert.Equal(reason is null ? 0 : 1, passedThrough.Total);
        if (reason is not null)
        {
            Assert.Equal(1, passedThrough.Sum("reason", reason));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_json_body_over_max_body_size_with_a_Content_Length_passes_through_counted_as_size()
    {
        var body = "{\"gone\":\"" + new string('a', 300) + "\"}";
        await using var backend = await JsonBackendAsync(body);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {json: [gone]}, max_body_size: 100}"""));
        using var passedThrough = PassThroughCounter(gateway);

        var response = await gateway.Client.GetAsync("/api/x");

        Assert.Equal(body, await response.Content.ReadAsStringAsync());
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.Equal(1, passedThrough.Sum("reason", "size"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_chunked_json_body_over_max_body_size_is_sent_whole_buffered_start_first()
    {
        var body = "{\"gone\":\"" + string.Concat(Enumerable.Range(0, 100).Select(i => $"{i:D4}")) + "\"}";
        await using var backend = await JsonBackendAsync(body, withLength: false);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {json: [gone]}, max_body_size: 250}"""));
        using var passedThrough = PassThroughCounter(gateway);

        var response = await gateway.Client.GetAsync("/api/x");

        Assert.Equal(body, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, passedThrough.Sum("reason", "size"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_HEAD_response_keeps_the_upstream_Content_Length()
    {
        await using var backend = await JsonBackendAsync("""{"gone":1,"kept":2}""");
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {json: [gone]}, add: {headers: ["x-seen:yes"]}}"""));

        using var request = new HttpRequestMessage(HttpMethod.Head, "/api/x");
        var response = await gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(19, response.Content.Headers.ContentLength);
        Assert.Equal(["yes"], response.Headers.GetValues("X-Seen"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Header_edits_apply_to_the_gateways_own_rejections_but_their_problem_body_is_not_edited()
    {
        // Kong runs header_filter on kong.response.exit answers of earlier plugins (here key-auth's 401).
        await using var backend = await JsonBackendAsync("{}");
        const string keyAuth = """
              - name: key-auth
            """;
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{add: {headers: ["x-frame-options:DENY"]}, remove: {json: [detail, request_id]}}""", keyAuth));

        var response = await gateway.Client.GetAsync("/api/x");

        var detail = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized);
        Assert.NotEmpty(detail);
        Assert.Equal(["DENY"], response.Headers.GetValues("X-Frame-Options"));
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Header_edits_apply_to_a_502_when_the_upstream_cannot_be_reached()
    {
        // Port 1 on loopback: nothing listens, the connection is refused.
        await using var gateway = await TestGateway.StartAsync(Config("http://127.0.0.1:1", """{add: {headers: ["x-frame-options:DENY"]}}"""));

        var response = await gateway.Client.GetAsync("/api/x");

        await Problem.AssertAsync(response, HttpStatusCode.BadGateway);
        Assert.Equal(["DENY"], response.Headers.GetValues("X-Frame-Options"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_route_without_the_plugin_is_not_transformed()
    {
        await using var backend = await JsonBackendAsync("""{"gone":1}""");
        var config = Config(backend.Url, """{remove: {json: [gone]}}""") + """

            - name: other
              url: "{{URL}}"
              routes:
              - name: plain
                paths: [/plain]
            """.Replace("{{URL}}", backend.Url, StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(config);

        var transformed = await gateway.Client.GetAsync("/api/x");
        var plain = await gateway.Client.GetAsync("/plain/x");

        Assert.Equal("{}", await transformed.Content.ReadAsStringAsync());
        Assert.Equal("""{"gone":1}""", await plain.Content.ReadAsStringAsync());
        Assert.Equal("application/json", plain.Content.Headers.ContentType?.MediaType);
    }
}
