using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Testing;
using ServerlessGateway.Tests.Transcoding;
using static ServerlessGateway.EndToEnd.Tests.ManagementApiTests;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// grpc-gateway end to end: REST/JSON client -> Standalone gateway -> real Grpc.AspNetCore server over h2c,
/// and back, for every mapping google.api.http and the proto3 JSON mapping define.
/// </summary>
public sealed class GrpcGatewayTests : IAsyncLifetime
{
    private GrpcBackend _backend = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await GrpcBackend.StartAsync();
        _gateway = await TestGateway.StartAsync(Config(_backend.Port, "max_message_size: 2048"));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    internal static string Config(int port, string extra = "", string? descriptorSet = null) => $$"""
        _format_version: "3.0"
        services:
        - name: things
          protocol: grpc
          host: 127.0.0.1
          port: {{port}}
          routes:
          - name: rest
            paths: [/v1]
            strip_path: false
          plugins:
          - name: grpc-gateway
            config:
              descriptor_set: "{{descriptorSet ?? GrpcBackend.DescriptorSet}}"
              {{extra}}
        """;

    private static async Task<JsonObject> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    private Task<HttpResponseMessage> SendAsync(string method, string path, string? json = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return _gateway.Client.SendAsync(request);
    }

    private T LastCall<T>(string method)
        where T : IMessage
    {
        var call = _backend.Calls.Last(c => c.Method == method);
        return (T)call.Request;
    }

    [Fact(Timeout = 30_000)]
    public async Task Get_binds_path_variables_and_query_parameters_nested_repeated_enum_bool_int64_and_timestamp()
    {
        var response = await _gateway.Client.GetAsync(
            "/v1/things/abc?page_size=5&fields=a&fields=b%20c&filter.zip=123&filter.streetName=Main+St&color=GREEN&verbose=true&since=2024-02-29T12:00:00Z&big=9007199254740993");

        var json = await JsonAsync(response);
        var seen = LastCall<GetThingRequest>("GetThing");
        Assert.Equal("things/abc", seen.Name);
        Assert.Equal(5, seen.PageSize);
        Assert.Equal(["a", "b c"], seen.Fields);
        Assert.Equal(new Address { Zip = 123, StreetName = "Main St" }, seen.Filter);
        Assert.Equal(Color.Green, seen.Color);
        Assert.True(seen.Verbose);
        Assert.Equal(9007199254740993, seen.Big);
        Assert.Equal("""{"name":"things/abc","big":"9007199254740993","count":5,"flag":true,"color":"GREEN","tags":["a","b c"],"home":{"streetName":"Main St","zip":123},"created":"2024-02-29T12:00:00Z"}""",
            json.ToJsonString());
    }

    [Fact(Timeout = 30_000)]
    public async Task The_backend_gets_a_grpc_call_over_http2()
    {
        await _gateway.Client.GetAsync("/v1/things/x");

        var call = _backend.Calls.Last(c => c.Method == "GetThing");
        Assert.Equal("HTTP/2", call.Protocol);
        Assert.Equal("trailers", call.Headers["te"]);
        Assert.Equal("application/grpc", call.Headers["content-type"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Additional_bindings_route_other_paths_to_the_same_method()
    {
        var json = await JsonAsync(await _gateway.Client.GetAsync("/v1/shelves/77/things/book?fields=x"));

        var seen = LastCall<GetThingRequest>("GetThing");
        Assert.Equal("book", seen.Name);
        Assert.Equal(77, seen.Filter.Zip);
        Assert.Equal("book", json["name"]!.GetValue<string>());

        var put = await JsonAsync(await SendAsync("PUT", "/v1/echo/deep/er/path", """{"count":3}"""));
        Assert.Equal("deep/er/path", put["name"]!.GetValue<string>());
        Assert.Equal(3, put["count"]!.GetValue<int>());
    }

    [Fact(Timeout = 30_000)]
    public async Task Post_with_body_star_maps_every_json_shape_and_returns_the_proto3_json()
    {
        const string body = """
            {"name":"n","big":"-9223372036854775808","ubig":18446744073709551615,"count":"7","ratio":1.5,"small":0.25,"flag":true,
             "blob":"-_8","color":2,"tags":["a"],"numbers":[1,"2"],"scores":{"a":1},"by_zip":{"10":{"street_name":"s"}},
             "home":{"zip":1},"others":[{"zip":2},{}],"place":{"zip":3},"created":"2024-01-01T00:00:00.5+01:00","ttl":"1.5s",
             "maybeCount":0,"maybeText":"t","maybeFlag":false,"extra":{"k":[1,"x",null,{"n":true}]},"anyValue":null,
             "list":[1,"two"],"mask":"name,home.streetName","opt":0,"customName":"c","colors":["RED"],"nothing":{}}
            """;

        var json = await JsonAsync(await SendAsync("POST", "/v1/things", body));

        var seen = LastCall<Thing>("CreateThing");
        Assert.Equal(long.MinValue, seen.Big);
        Assert.Equal(ulong.MaxValue, seen.Ubig);
        Assert.Equal(new byte[] { 0xfb, 0xff }, seen.Blob.ToByteArray());
        Assert.Equal(Thing.ChoiceOneofCase.Place, seen.ChoiceCase);
        Assert.Equal(new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1704063600, Nanos = 500_000_000 }, seen.Created);
        Assert.Equal(["name", "home.street_name"], seen.Mask.Paths);
        Assert.Equal("c", seen.Renamed);
        Assert.Equal(JsonNode.Parse("""
            {"name":"n","big":"-9223372036854775808","ubig":"18446744073709551615","count":7,"ratio":1.5,"small":0.25,"flag":true,
             "blob":"+/8=","color":"GREEN","tags":["a"],"numbers":["1","2"],"scores":{"a":1},"byZip":{"10":{"streetName":"s"}},
             "home":{"zip":1},"others":[{"zip":2},{}],"place":{"zip":3},"created":"2023-12-31T23:00:00.500Z","ttl":"1.500s",
             "maybeCount":0,"maybeText":"t","maybeFlag":false,"extra":{"k":[1,"x",null,{"n":true}]},"anyValue":null,
             "list":[1,"two"],"mask":"name,home.streetName","opt":0,"customName":"c","colors":["RED"],"nothing":{}}
            """)!.ToJsonString(), json.ToJsonString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Patch_with_body_field_puts_the_body_in_that_field_and_the_rest_from_path_and_query()
    {
        var json = await JsonAsync(await SendAsync("PATCH", "/v1/things/t1?update_mask=count,home.zip", """{"count":9,"home":{"zip":5},"text":"x"}"""));

        var seen = LastCall<UpdateThingRequest>("UpdateThing");
        Assert.Equal("things/t1", seen.Name);
        Assert.Equal(9, seen.Thing.Count);
        Assert.Equal(["count", "home.zip"], seen.UpdateMask.Paths);
        Assert.Equal("""{"name":"things/t1","count":9,"home":{"zip":5},"text":"x","mask":"count,home.zip"}""", json.ToJsonString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Delete_returning_empty_answers_an_empty_object_and_custom_methods_work()
    {
        Assert.Equal("{}", (await JsonAsync(await SendAsync("DELETE", "/v1/things/gone"))).ToJsonString());
        Assert.Equal("things/gone", LastCall<GetThingRequest>("DeleteThing").Name);

        var found = await JsonAsync(await SendAsync("SEARCH", "/v1/things:search", """{"tags":["q"]}"""));
        Assert.Equal("""{"tags":["q"],"text":"found"}""", found.ToJsonString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Response_body_answers_only_that_field()
    {
        var response = await _gateway.Client.GetAsync("/v1/shelves/s1/things?count=2");

        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""[{"name":"shelves/s1/0"},{"name":"shelves/s1/1","count":1}]""", text);
        Assert.Equal(text.Length, response.Content.Headers.ContentLength);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(1, 499)]
    [InlineData(2, 500)]
    [InlineData(3, 400)]
    [InlineData(4, 504)]
    [InlineData(5, 404)]
    [InlineData(6, 409)]
    [InlineData(7, 403)]
    [InlineData(8, 429)]
    [InlineData(9, 400)]
    [InlineData(10, 409)]
    [InlineData(11, 400)]
    [InlineData(12, 501)]
    [InlineData(13, 500)]
    [InlineData(14, 503)]
    [InlineData(15, 500)]
    [InlineData(16, 401)]
    public async Task Grpc_error_statuses_become_problem_json_with_the_google_rpc_http_status(int code, int status)
    {
        var response = await SendAsync("POST", "/v1/fail:trigger", $$"""{"code":{{code}},"message":"went wrong: ü 100%"}""");

        var detail = await Problem.AssertAsync(response, (HttpStatusCode)status);
        Assert.Equal("went wrong: ü 100%", detail);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(code, json["grpc_status"]!.GetValue<int>());
        Assert.False(response.Headers.Contains("grpc-status"));
        Assert.False(response.TrailingHeaders.Contains("grpc-status"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_not_found_from_the_method_is_a_404_problem()
    {
        var detail = await Problem.AssertAsync(await _gateway.Client.GetAsync("/v1/things/missing"), HttpStatusCode.NotFound);

        Assert.Equal("thing things/missing does not exist (100%)", detail);
    }

    [Fact(Timeout = 30_000)]
    public async Task Server_streaming_answers_newline_delimited_json_as_messages_arrive()
    {
        var response = await _gateway.Client.GetAsync("/v1/shelves/s2/things:watch?count=3", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Content.Headers.ContentLength);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');
        Assert.Equal(
            [
                """{"name":"shelves/s2/0","big":"9223372036854775807"}""",
                """{"name":"shelves/s2/1","big":"9223372036854775806","count":1}""",
                """{"name":"shelves/s2/2","big":"9223372036854775805","count":2}""",
                "",
            ],
            lines);
    }

    [Fact(Timeout = 30_000)]
    public async Task Each_streamed_message_reaches_the_client_before_the_stream_ends()
    {
        using var response = await _gateway.Client.GetAsync("/v1/shelves/gated/things:watch?count=2", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // The backend holds the second message until the first line has arrived here.
        var first = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        GrpcBackend.StreamGate.Release();
        var second = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("""{"name":"shelves/gated/0","big":"9223372036854775807"}""", first);
        Assert.Equal("""{"name":"shelves/gated/1","big":"9223372036854775806","count":1}""", second);
        Assert.Null(await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_response_over_max_message_size_or_not_grpc_at_all_is_a_502_problem()
    {
        var detail = await Problem.AssertAsync(await _gateway.Client.GetAsync("/v1/shelves/big/things?count=300"), HttpStatusCode.BadGateway);
        Assert.Contains("TooLarge", detail, StringComparison.Ordinal);

        // An HTTP/2 server that is not a gRPC server.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
        await using var plain = builder.Build();
        plain.Run((RequestDelegate)(context => context.Response.WriteAsync("hello")));
        await plain.StartAsync();
        var port = new Uri(plain.Urls.First()).Port;
        await using var gateway = await TestGateway.StartAsync(Config(port));

        detail = await Problem.AssertAsync(await gateway.Client.GetAsync("/v1/things/x"), HttpStatusCode.BadGateway);
        Assert.Contains("without gRPC content", detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stream_failing_after_messages_ends_with_an_error_line_and_one_failing_at_once_is_a_problem()
    {
        var broken = await (await _gateway.Client.GetAsync("/v1/shelves/broken/things:watch?count=1")).Content.ReadAsStringAsync();
        Assert.Equal("""{"name":"shelves/broken/0","big":"9223372036854775807"}""" + "\n" + """{"error":{"code":15,"status":"DATA_LOSS","message":"the shelf broke"}}""" + "\n", broken);

        await Problem.AssertAsync(await _gateway.Client.GetAsync("/v1/shelves/broken/things:watch?count=0"), HttpStatusCode.InternalServerError);

        var empty = await _gateway.Client.GetAsync("/v1/shelves/none/things:watch?count=0");
        Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        Assert.Equal("", await empty.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Client_streaming_methods_answer_501_without_calling_the_backend()
    {
        var detail = await Problem.AssertAsync(await SendAsync("POST", "/v1/things:upload", "{}"), HttpStatusCode.NotImplemented);

        Assert.Contains("client-streaming", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(_backend.Calls, c => c.Method == "Upload");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("POST", "/v1/things", """{"count":"many"}""", "field 'count'")]
    [InlineData("POST", "/v1/things", """{"count":2147483648}""", "out of range for int32")]
    [InlineData("POST", "/v1/things", """{"home":{"zip":true}}""", "field 'home.zip'")]
    [InlineData("POST", "/v1/things", """{"color":"PURPLE"}""", "field 'color'")]
    [InlineData("POST", "/v1/things", """{"colour":"RED"}""", "field 'colour': unknown field")]
    [InlineData("POST", "/v1/things", """{"created":"yesterday"}""", "field 'created'")]
    [InlineData("POST", "/v1/things", """{"name":"x",""", "not valid JSON")]
    [InlineData("POST", "/v1/things", """[1,2]""", "must be a JSON object")]
    [InlineData("GET", "/v1/things/x?page_size=ten", null, "field 'page_size'")]
    [InlineData("GET", "/v1/things/x?verbose=maybe", null, "field 'verbose'")]
    [InlineData("GET", "/v1/things/x?nope=1", null, "field 'nope': unknown field")]
    [InlineData("GET", "/v1/things/x?filter=1", null, "field 'filter'")]
    [InlineData("PATCH", "/v1/things/t", """{"others":[{"zip":"z"}]}""", "field 'thing.others[0].zip'")]
    public async Task Bad_input_is_a_400_problem_naming_the_field_and_never_reaches_the_backend(string method, string path, string? body, string expected)
    {
        var before = _backend.Calls.Count;

        var detail = await Problem.AssertAsync(await SendAsync(method, path, body), HttpStatusCode.BadRequest);

        Assert.Contains(expected, detail, StringComparison.Ordinal);
        Assert.Equal(before, _backend.Calls.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_body_over_max_message_size_is_a_413_and_unmatched_paths_and_methods_are_404_and_405()
    {
        await Problem.AssertAsync(await SendAsync("POST", "/v1/things", $$"""{"name":"{{new string('x', 3000)}}"}"""), HttpStatusCode.RequestEntityTooLarge);
        await Problem.AssertAsync(await SendAsync("GET", "/v1/nothing/here/at/all"), HttpStatusCode.NotFound);
        await Problem.AssertAsync(await SendAsync("POST", "/v1/things/abc", "{}"), HttpStatusCode.MethodNotAllowed);
        var wrongType = new HttpRequestMessage(HttpMethod.Post, "/v1/things") { Content = new StringContent("name=x", Encoding.UTF8, "application/x-www-form-urlencoded") };
        await Problem.AssertAsync(await _gateway.Client.SendAsync(wrongType), HttpStatusCode.UnsupportedMediaType);
    }

    [Fact(Timeout = 30_000)]
    public async Task With_ignore_unknown_fields_unknown_names_and_enum_values_are_dropped()
    {
        await using var lenient = await TestGateway.StartAsync(Config(_backend.Port, "ignore_unknown_fields: true"));

        var json = await JsonAsync(await lenient.Client.PostAsync("/v1/things",
            new StringContent("""{"name":"a","colour":"RED","color":"PURPLE"}""", Encoding.UTF8, "application/json")));

        Assert.Equal("""{"name":"a"}""", json.ToJsonString());
        var unknownQuery = await JsonAsync(await lenient.Client.GetAsync("/v1/things/q?utm_source=x"));
        Assert.Equal("things/q", unknownQuery["name"]!.GetValue<string>());
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unreachable_grpc_backend_is_a_502_problem()
    {
        int port;
        await using (var gone = await GrpcBackend.StartAsync())
        {
            port = gone.Port;
        }

        await using var gateway = await TestGateway.StartAsync(Config(port));

        await Problem.AssertAsync(await gateway.Client.GetAsync("/v1/things/x"), HttpStatusCode.BadGateway);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_descriptor_set_over_64_KiB_round_trips_through_table_storage_to_another_instance()
    {
        // protoc's set plus a generated file of long field names: well over one 64 KiB table property.
        var set = FileDescriptorSet.Parser.ParseFrom(Convert.FromBase64String(GrpcBackend.DescriptorSet));
        var padding = new DescriptorProto { Name = "Padding" };
        for (var i = 1; i <= 1500; i++)
        {
            padding.Field.Add(new FieldDescriptorProto { Name = $"padding_field_with_a_rather_long_name_{i}", Number = i, Type = FieldDescriptorProto.Types.Type.String, Label = FieldDescriptorProto.Types.Label.Optional });
        }

        set.File.Add(new FileDescriptorProto { Name = "padding.proto", Package = "padding", Syntax = "proto3", MessageType = { padding } });
        var large = Convert.ToBase64String(set.ToByteArray());
        Assert.True(large.Length > 64 * 1024, $"{large.Length} characters");

        await using var azurite = await AzuriteServer.StartNewAsync();
        var settings = AdminSettings(new Dictionary<string, string?>
        {
            ["GatewayStorage"] = azurite.ConnectionString,
            ["Gateway:TablePrefix"] = "T" + Guid.NewGuid().ToString("N")[..10],
        });
        await using (var writer = await TestGateway.StartAsync(null, settings: settings))
        {
            var import = await writer.Client.SendAsync(Admin(HttpMethod.Post, "/_gateway/config", Config(_backend.Port, descriptorSet: large), "application/yaml"));
            Assert.Equal(HttpStatusCode.Created, import.StatusCode);
        }

        // A cold instance loads the snapshot from storage alone.
        await using var reader = await TestGateway.StartAsync(null, settings: settings);

        var json = await JsonAsync(await reader.Client.GetAsync("/v1/things/from-storage"));
        Assert.Equal("things/from-storage", json["name"]!.GetValue<string>());
        var exportRequest = Admin(HttpMethod.Get, "/_gateway/config");
        exportRequest.Headers.Accept.ParseAdd("application/json");
        var export = JsonNode.Parse(await (await reader.Client.SendAsync(exportRequest)).Content.ReadAsStringAsync())!;
        Assert.Equal(large, export["services"]![0]!["plugins"]?[0]?["config"]?["descriptor_set"]?.GetValue<string>()
            ?? export["plugins"]![0]!["config"]!["descriptor_set"]!.GetValue<string>());
    }
}
