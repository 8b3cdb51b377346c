using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>Kong's request-transformer on real requests: what reaches the loopback backend.</summary>
public sealed class RequestTransformerTests
{
    private static string Config(string backendUrl, string pluginConfig, string paths = "[/api]", string servicePath = "") => $$"""
        _format_version: "3.0"
        services:
        - name: svc
          url: "{{backendUrl}}{{servicePath}}"
          routes:
          - name: rt
            paths: {{paths}}
          plugins:
          - name: request-transformer
            config: {{pluginConfig}}
        """;

    private static async Task<SeenRequest> SendAsync(TestGateway gateway, TestBackend backend, HttpRequestMessage request)
    {
        var before = backend.Requests.Count;
        var response = await gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(before + 1, backend.Requests.Count);
        return backend.Requests.ToArray()[^1];
    }

    [Fact(Timeout = 60_000)]
    public async Task Header_operations_apply_in_Kongs_order_remove_rename_replace_add_append()
    {
        await using var backend = await TestBackend.StartAsync();
        // rename X-Old -> X-New, then replace X-New (present only after the rename), add X-Old (absent after the rename),
        // add X-Kept (present: untouched), append X-Multi; remove X-Gone; replace X-Absent does nothing.
        const string plugin = """{remove: {headers: [x-gone]}, rename: {headers: ["x-old:x-new"]}, replace: {headers: ["x-new:replaced", "x-absent:nope"]}, add: {headers: ["x-old:added", "x-kept:nope", "x-url:http://a:1/b"]}, append: {headers: ["x-multi:two", "x-fresh:one"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        request.Headers.Add("X-Gone", "bye");
        request.Headers.Add("X-Old", "original");
        request.Headers.Add("X-Kept", "mine");
        request.Headers.Add("X-Multi", "one");
        var seen = await SendAsync(gateway, backend, request);

        Assert.False(seen.Headers.ContainsKey("X-Gone"));
        Assert.Equal("replaced", seen.Headers["X-New"]);
        Assert.Equal("added", seen.Headers["X-Old"]);
        Assert.Equal("mine", seen.Headers["X-Kept"]);
        Assert.Equal("http://a:1/b", seen.Headers["X-Url"]);
        Assert.False(seen.Headers.ContainsKey("X-Absent"));
        Assert.Matches("^one, ?two$", seen.Headers["X-Multi"]);
        Assert.Equal("one", seen.Headers["X-Fresh"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Querystring_operations_apply_in_Kongs_order()
    {
        await using var backend = await TestBackend.StartAsync();
        const string plugin = """{remove: {querystring: [gone]}, rename: {querystring: ["old:new"]}, replace: {querystring: ["new:r", "absent:nope"]}, add: {querystring: ["old:a b", "kept:nope"]}, append: {querystring: ["multi:2"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        var seen = await SendAsync(gateway, backend, new HttpRequestMessage(HttpMethod.Get, "/api/x?gone=1&old=o&kept=k&multi=1"));

        Assert.Equal("/x?new=r&kept=k&multi=1&old=a%20b&multi=2", seen.RawTarget);
    }

    [Fact(Timeout = 60_000)]
    public async Task Templates_render_headers_query_and_uri_captures_and_missing_values_render_empty()
    {
        await using var backend = await TestBackend.StartAsync();
        const string plugin = """{add: {headers: ["x-from-header:h=$(headers.x_in)", "x-bracket:$(headers['x-in'])", "x-from-query:$(query_params.q)", "x-capture:$(uri_captures[1])/$(uri_captures.kind)", "x-missing:[$(headers.nope)]", "x-names:$(route.name)@$(service.name)", "x-uuid:$(uuid)", "x-consumer:[$(consumer.username)]"], querystring: ["copied:$(headers['x-in'])"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin, paths: """["~/items/(\\d+)/(?<kind>\\w+)$"]"""));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/items/42/detail?q=search");
        request.Headers.Add("X-In", "incoming");
        var seen = await SendAsync(gateway, backend, request);

        Assert.Equal("h=incoming", seen.Headers["X-From-Header"]);
        Assert.Equal("incoming", seen.Headers["X-Bracket"]);
        Assert.Equal("search", seen.Headers["X-From-Query"]);
        Assert.Equal("42/detail", seen.Headers["X-Capture"]);
        Assert.Equal("[]", seen.Headers["X-Missing"]);
        Assert.Equal("rt@svc", seen.Headers["X-Names"]);
        Assert.True(Guid.TryParse(seen.Headers["X-Uuid"], out _));
        Assert.Equal("[]", seen.Headers["X-Consumer"]);
        Assert.EndsWith("&copied=incoming", seen.RawTarget, StringComparison.Ordinal);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("application/json", """{"gone":1,"old":"o","kept":"k","multi":"1","n":{"deep":true}}""",
        """{"kept":"k","multi":["1","2"],"n":{"deep":true},"new":"r","old":"a b","fresh":["x"]}""")]
    [InlineData("application/x-www-form-urlencoded; charset=utf-8", "gone=1&old=o&kept=k&multi=1&n=a+b",
        "new=r&kept=k&multi=1&n=a%20b&old=a%20b&multi=2&fresh=x")]
    [InlineData("text/plain", "gone=1&old=o", "gone=1&old=o")]
    [InlineData("application/json", "[1,2]", "[1,2]")]
    public async Task Body_operations_edit_top_level_keys_of_json_and_form_bodies_only(string contentType, string body, string expected)
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            await c.Response.WriteAsync($"{c.Request.ContentLength}|{await reader.ReadToEndAsync()}");
        });
        const string plugin = """{remove: {body: [gone]}, rename: {body: ["old:new"]}, replace: {body: ["new:r", "absent:nope"]}, add: {body: ["old:a b", "kept:nope"]}, append: {body: ["multi:2", "fresh:x"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        using var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        var response = await gateway.Client.PostAsync("/api/x", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = await response.Content.ReadAsStringAsync();
        Assert.Equal($"{System.Text.Encoding.UTF8.GetByteCount(expected)}|{expected}", seen);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("application/json")]
    [InlineData("multipart/form-data; boundary=" + Boundary)]
    public async Task A_chunked_body_over_request_size_limiting_is_413_while_buffered_for_body_operations(string contentType)
    {
        await using var backend = await TestBackend.StartAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{add: {body: [\"a:b\"]}}")
            + "\n  - name: request-size-limiting\n    config: {allowed_payload_size: 64, size_unit: bytes}\n");

        var body = contentType == "application/json" ? "{\"k\":\"" + new string('x', 500) + "\"}" : TextPart("k", new string('x', 500)) + $"--{Boundary}--\r\n";
        using var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/x") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        var response = await gateway.Client.SendAsync(request);

        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Empty(backend.Requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task Replace_uri_and_http_method_change_what_the_backend_sees()
    {
        await using var backend = await TestBackend.StartAsync();
        const string plugin = """{replace: {uri: "/v2/items/$(uri_captures.id)"}, http_method: POST}""";
        await using var gateway = await TestGateway.StartAsync(
            Config(backend.Url, plugin, paths: """["~/items/(?<id>[^/]+)$"]""", servicePath: "/ignored"));

        var seen = await SendAsync(gateway, backend, new HttpRequestMessage(HttpMethod.Get, "/items/a%20b?keep=1"));

        Assert.Equal("POST", seen.Method);
        Assert.Equal("/v2/items/a%20b?keep=1", seen.RawTarget);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_rendered_header_value_with_a_line_break_is_dropped_not_sent()
    {
        await using var backend = await TestBackend.StartAsync();
        const string plugin = """{add: {headers: ["x-echo:$(query_params.v)", "x-ok:fine"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));

        var seen = await SendAsync(gateway, backend, new HttpRequestMessage(HttpMethod.Get, "/api/x?v=a%0D%0AX-Injected:%201"));

        Assert.False(seen.Headers.ContainsKey("X-Echo"));
        Assert.False(seen.Headers.ContainsKey("X-Injected"));
        Assert.Equal("fine", seen.Headers["X-Ok"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_seed_config_imports_with_its_request_transformer_and_every_request_gets_a_distinct_uuid_correlation_id()
    {
        await using var backend = await TestBackend.StartAsync();
        // The seed as shipped, pointed at the loopback backend; the jwt plugins (they would need a consumer
        // with a jwt_secrets entry and a signed token; JwtPluginTests covers the whole seed) removed.
        var seed = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Examples", "seed-kong.yaml"))
            .Replace("http://user-service:3001", backend.Url, StringComparison.Ordinal)
            .Replace("http://order-service:3002", backend.Url, StringComparison.Ordinal)
            .Replace("  - name: jwt            # Validate JWT on every request\n", "", StringComparison.Ordinal)
            .Replace("  - name: jwt\n", "", StringComparison.Ordinal);
        Assert.Contains("X-Correlation-ID:$(uuid)", seed, StringComparison.Ordinal);
        Assert.DoesNotContain("jwt", seed, StringComparison.Ordinal);
        await using var gateway = await TestGateway.StartAsync(seed);

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 5; i++)
        {
            var seen = await SendAsync(gateway, backend, new HttpRequestMessage(HttpMethod.Get, $"/api/orders/{i}"));
            Assert.True(Guid.TryParseExact(seen.Headers["X-Correlation-ID"], "D", out _), seen.Headers["X-Correlation-ID"]);
            ids.Add(seen.Headers["X-Correlation-ID"]);
        }

        Assert.Equal(5, ids.Count);
        var user = await SendAsync(gateway, backend, new HttpRequestMessage(HttpMethod.Get, "/api/users"));
        Assert.False(user.Headers.ContainsKey("X-Correlation-ID"));
        Assert.Contains("rate-limiting", seed, StringComparison.Ordinal);
    }

    private const string Boundary = "----sgBoundary7MA4YWxkTrZu0gW";

    /// <summary>A backend that answers with exactly the body bytes it received, its Content-Length and Content-Type in headers.</summary>
    private static Task<TestBackend> StartEchoBackendAsync() => TestBackend.StartAsync(async c =>
    {
        c.Response.Headers["X-Seen-Length"] = c.Request.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none";
        c.Response.Headers["X-Seen-Type"] = c.Request.ContentType ?? "none";
        c.Response.Headers["X-Seen-Target"] = c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget;
        await c.Request.Body.CopyToAsync(c.Response.Body);
    });

    private static async Task<(byte[] Body, HttpResponseMessage Response)> PostAsync(TestGateway gateway, string target, byte[] body, string contentType)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        var response = await gateway.Client.PostAsync(target, content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadAsByteArrayAsync(), response);
    }

    private static byte[] Bytes(params object[] pieces) =>
        [.. pieces.SelectMany(p => p as byte[] ?? System.Text.Encoding.UTF8.GetBytes((string)p))];

    private static string TextPart(string name, string value) =>
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n";

    /// <summary>Every byte value, CR LF pairs and a dash run that is not the delimiter: what a file part may hold.</summary>
    private static readonly byte[] Binary =
        [.. Enumerable.Range(0, 256).Select(i => (byte)i), .. "\r\n--not-the-boundary\r\n\r\n"u8.ToArray(), 0, 255, 13, 10, 45, 45];

    [Fact(Timeout = 60_000)]
    public async Task Multipart_fields_are_renamed_removed_replaced_and_added_in_Kongs_order_and_file_parts_pass_byte_for_byte()
    {
        await using var backend = await StartEchoBackendAsync();
        // Kong's multipart order is rename, remove, replace, add (access.lua transform_multipart_body): tmp is renamed to
        // gone (overwriting the part named gone), then gone is removed. Kong has no multipart append: append does nothing.
        const string plugin = """{rename: {body: ["old:new", "tmp:gone", "doc:attachment"]}, remove: {body: [gone]}, replace: {body: ["new:r", "absent:nope"]}, add: {body: ["old:added", "kept:nope"]}, append: {body: ["kept:x", "fresh:y"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));
        var fileHead = $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
        var sent = Bytes(
            TextPart("gone", "bye"), TextPart("old", "o"), TextPart("kept", "k"), TextPart("tmp", "t"),
            fileHead, Binary, "\r\n",
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"d.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            $"--{Boundary}--\r\n");

        var (seen, response) = await PostAsync(gateway, "/api/x", sent, $"multipart/form-data; boundary={Boundary}");

        var expected = Bytes(
            TextPart("kept", "k"),
            fileHead, Binary, "\r\n",
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"d.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            TextPart("new", "r"), TextPart("old", "added"),
            $"--{Boundary}--\r\n");
        Assert.Equal(System.Text.Encoding.Latin1.GetString(expected), System.Text.Encoding.Latin1.GetString(seen));
        Assert.Equal(expected.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Seen-Length").Single());
        Assert.Equal($"multipart/form-data; boundary={Boundary}", response.Headers.GetValues("X-Seen-Type").Single());
    }

    [Fact(Timeout = 60_000)]
    public async Task The_backend_parses_the_edited_multipart_body_and_a_rendered_value_holding_the_boundary_is_not_injected()
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            var form = await c.Request.ReadFormAsync();
            var file = form.Files.Single();
            using var data = new MemoryStream();
            await file.CopyToAsync(data);
            var fields = string.Join("&", form.Keys.Order(StringComparer.Ordinal).Select(k => $"{k}={form[k]}"));
            await c.Response.WriteAsync($"{fields}|{file.Name}:{file.FileName}:{file.ContentType}:{Convert.ToHexString(data.ToArray())}");
        });
        const string plugin = """{add: {body: ["inj:$(query_params.v)", "from-query:q=$(query_params.q)"]}, replace: {body: ["role:$(query_params.v)"]}}""";
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, plugin));
        var injected = Uri.EscapeDataString($"x\r\n--{Boundary}\r\nContent-Disposition: form-data; name=\"admin\"\r\n\r\ntrue");
        var sent = Bytes(
            TextPart("role", "user"),
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"b.bin\"\r\nContent-Type: image/png\r\n\r\n", Binary, "\r\n",
            $"--{Boundary}--\r\n");

        var (seen, _) = await PostAsync(gateway, $"/api/x?q=1&v={injected}", sent, $"multipart/form-data; boundary=\"{Boundary}\"");

        Assert.Equal($"from-query=q=1&role=user|upload:b.bin:image/png:{Convert.ToHexString(Binary)}", System.Text.Encoding.UTF8.GetString(seen));
    }

    [Theory(Timeout = 60_000)]
    [InlineData("multipart/form-data; boundary=" + Boundary, "preamble\r\n--" + Boundary + "\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--" + Boundary + "--\r\nepilogue")]
    [InlineData("multipart/form-data", "--" + Boundary + "\r\nContent-Disposition: form-data; name=\"gone\"\r\n\r\nv\r\n--" + Boundary + "--\r\n")]
    [InlineData("multipart/form-data; boundary=" + Boundary, "--" + Boundary + "\r\nContent-Disposition: form-data; name=\"gone\"\r\n\r\ntruncated, no close delimiter")]
    [InlineData("multipart/form-data; boundary=" + Boundary, "gone=no+delimiter+at+all")]
    [InlineData("multipart/form-data; boundary=" + Boundary, "--" + Boundary + "\r\nContent-Disposition: form-data; name=\"gone\"\r\n--" + Boundary + "--\r\n")]
    [InlineData("multipart/form-data; boundary=other", "--" + Boundary + "\r\nContent-Disposition: form-data; name=\"gone\"\r\n\r\nv\r\n--" + Boundary + "--\r\n")]
    public async Task A_multipart_body_without_a_matching_field_without_a_boundary_or_malformed_is_forwarded_unchanged(string contentType, string body)
    {
        // Only remove and append (which Kong does not apply to multipart): no edit for the well-formed body without "gone";
        // the others cannot be parsed with their boundary and reach the backend as the client sent them.
        await using var backend = await StartEchoBackendAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {body: [gone]}, append: {body: ["k:more"]}}"""));

        var (seen, response) = await PostAsync(gateway, "/api/x", System.Text.Encoding.UTF8.GetBytes(body), contentType);

        Assert.Equal(body, System.Text.Encoding.UTF8.GetString(seen));
        Assert.Equal(contentType, response.Headers.GetValues("X-Seen-Type").Single());
    }

    [Theory(Timeout = 60_000)]
    [InlineData("", "")]
    [InlineData("--" + Boundary + "\r\nContent-Disposition: form-data; name=\"gone\"\r\n\r\nv\r\n--" + Boundary + "--\r\n", "")]
    [InlineData("--" + Boundary + "\r\n\r\nno headers\r\n--" + Boundary + " \t\r\nContent-Disposition: form-data; name=\"gone\"\r\n\r\nv\r\n--" + Boundary + "--",
        "--" + Boundary + "\r\n\r\nno headers\r\n--" + Boundary + "--\r\n")]
    public async Task Removing_every_part_empties_the_body_and_a_part_without_headers_is_kept(string body, string expected)
    {
        await using var backend = await StartEchoBackendAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{remove: {body: [gone]}}"""));

        var (seen, response) = await PostAsync(gateway, "/api/x", System.Text.Encoding.UTF8.GetBytes(body), $"multipart/form-data; boundary={Boundary}");

        Assert.Equal(expected, System.Text.Encoding.UTF8.GetString(seen));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(expected).ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Seen-Length").Single());
    }

    [Fact(Timeout = 60_000)]
    public async Task Add_on_an_empty_multipart_body_creates_it_with_the_declared_boundary()
    {
        await using var backend = await StartEchoBackendAsync();
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, """{add: {body: ["a:1", "q\"x:2"]}, replace: {body: ["b:nope"]}}"""));

        var (seen, _) = await PostAsync(gateway, "/api/x", [], $"multipart/form-data; boundary={Boundary}");

        Assert.Equal(TextPart("a", "1") + TextPart("q%22x", "2") + $"--{Boundary}--\r\n", System.Text.Encoding.UTF8.GetString(seen));
    }

    [Theory(Timeout = 60_000)]
    // Kong's transform_method: the form fields join the query (after a parameter's own values), querystring
    // operations then apply to the merged query (flag is removed though it came from the body); the body stays.
    [InlineData("GET", "application/x-www-form-urlencoded", "/x?a=1&a=2&keep=k&b=x%20y")]
    [InlineData("HEAD", "application/x-www-form-urlencoded; charset=utf-8", "/x?a=1&a=2&keep=k&b=x%20y")]
    [InlineData("TRACE", "application/x-www-form-urlencoded", "/x?a=1&a=2&keep=k&b=x%20y")]
    [InlineData("PUT", "application/x-www-form-urlencoded", "/x?a=1&keep=k")]
    [InlineData("GET", "text/plain", "/x?a=1&keep=k")]
    public async Task Http_method_GET_HEAD_or_TRACE_moves_form_body_fields_into_the_query_as_Kong(string method, string contentType, string expectedTarget)
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            using var reader = new StreamReader(c.Request.Body);
            var body = await reader.ReadToEndAsync();
            c.Response.Headers["X-Seen"] = $"{c.Request.Method} {c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget} {c.Request.ContentLength}|{body}";
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url, "{http_method: " + method + ", remove: {querystring: [flag]}}"));
        const string body = "a=2&b=x+y&flag";

        using var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        var response = await gateway.Client.PostAsync("/api/x?a=1&keep=k", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"{method} {expectedTarget} {body.Length}|{body}", response.Headers.GetValues("X-Seen").Single());
    }
}
