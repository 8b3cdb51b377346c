using System.Text.Json.Nodes;
using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;
using ServerlessGateway.Transforms;

namespace ServerlessGateway.Tests.Transforms;

/// <summary>response-transformer import: Kong's fields and json_types, our JSON paths and max_body_size, every bad input rejected with its path.</summary>
public sealed class ResponseTransformerConfigTests
{
    private static IReadOnlyList<ConfigIssue> Errors(string pluginConfig) => KongDeclarativeParser.Parse($"""
        _format_version: "3.0"
        plugins:
        - name: response-transformer
          config: {pluginConfig}
        """).Errors;

    [Theory]
    [InlineData("{}")]
    [InlineData("""{remove: {headers: [x-a], json: [a, "$.user.ssn", "$..password", "$.items[*].secret", "$.a[0].b", "$['x-y'][-1]", "$schema"]}, rename: {headers: ["x-a:x-b"], json: ["a:b"]}, replace: {headers: ["x-c:v"], json: ["n:1", "$.user.name:REDACTED", "$['a:b'].c:x:y"], json_types: [number]}, add: {headers: ["x-url:http://a:1/b"], json: ["ok:true", "s:text"], json_types: [boolean, string]}, append: {headers: ["x-m:2"], json: ["list:3"], json_types: [number]}, max_body_size: 2048}""")]
    [InlineData("{remove: null, add: {headers: [], json: [], json_types: []}}")]
    public void Valid_configs_import(string config) => Assert.Empty(Errors(config));

    [Theory]
    [InlineData("""{remove: {headers: ["bad name"]}}""", "remove.headers[0]", "not a valid header name")]
    [InlineData("""{add: {headers: ["x-ok:1", "x(y):v"]}}""", "add.headers[1]", "not a valid header name")]
    [InlineData("""{add: {headers: ["novalue"]}}""", "add.headers[0]", "not 'name:value'")]
    [InlineData("""{replace: {headers: ["x-a:"]}}""", "replace.headers[0]", "has no value")]
    [InlineData("""{append: {headers: ["x:a\u0001b"]}}""", "append.headers[0]", "cannot carry")]
    [InlineData("""{add: {headers: ["content-length:5"]}}""", "add.headers[0]", "frames the response")]
    [InlineData("""{rename: {headers: ["x-a:transfer-encoding"]}}""", "rename.headers[0]", "frames the response")]
    [InlineData("""{rename: {headers: ["only"]}}""", "rename.headers[0]", "not 'old:new'")]
    [InlineData("""{remove: {json: [a, "$.a["]}}""", "remove.json[1]", "not a supported JSON path")]
    [InlineData("""{remove: {json: ["$.a[?(@.x)]"]}}""", "remove.json[0]", "filters, slices and unions are not supported")]
    [InlineData("""{remove: {json: ["$.a[1:2]"]}}""", "remove.json[0]", "expected ']'")]
    [InlineData("""{remove: {json: ["$.a b"]}}""", "remove.json[0]", "unexpected ' '")]
    [InlineData("""{remove: {json: ["$..", "$.a['x]"]}}""", "remove.json[1]", "unterminated")]
    [InlineData("""{remove: {json: [""]}}""", "remove.json[0]", "empty JSON key")]
    [InlineData("""{replace: {json: ["$.a.b"]}}""", "replace.json[0]", "not 'path:value'")]
    [InlineData("""{add: {json: ["$.a.b:1"]}}""", "add.json[0]", "remove.json and replace.json only")]
    [InlineData("""{rename: {json: ["a:$.b"]}}""", "rename.json[0]", "remove.json and replace.json only")]
    [InlineData("""{add: {json: ["n:abc"], json_types: [number]}}""", "add.json[0]", "not a JSON number")]
    [InlineData("""{append: {json: ["a:x", "b:yes"], json_types: [string, boolean]}}""", "append.json[1]", "not a JSON boolean")]
    [InlineData("""{replace: {json: ["a:1"], json_types: [integer]}}""", "replace.json_types[0]", "boolean, number, string")]
    [InlineData("""{add: {json: [1, {a: b}]}}""", "add.json[1]", "expected a string")]
    [InlineData("""{add: {json: "a:b"}}""", "add.json", "expected an array")]
    [InlineData("""{remove: {json_types: [string]}}""", "remove.json_types", "unknown field")]
    [InlineData("""{add: {body: ["a:b"]}}""", "add.body", "unknown field")]
    [InlineData("""{rename: []}""", "rename", "expected an object")]
    [InlineData("""{max_body_size: 0}""", "max_body_size", "between 1 and")]
    [InlineData("""{max_body_size: 1MB}""", "max_body_size", "expected an integer")]
    [InlineData("""{bogus: 1}""", "bogus", "unknown field")]
    public void Invalid_config_is_rejected_naming_the_field(string config, string field, string messagePart) =>
        PluginConfigAssert.Error(Errors(config), field, messagePart);

    [Fact]
    public void A_static_header_value_with_CR_LF_is_rejected_at_import() =>
        PluginConfigAssert.Error(Errors("{add: {headers: [\"x:a\\r\\nInjected: 1\"]}}"), "add.headers[0]", "CR, LF");

    [Fact]
    public void Max_body_size_defaults_to_one_MiB_and_json_types_pair_with_entries_by_index()
    {
        var node = ConfigNode.FromJsonNode(JsonNode.Parse("""{"add": {"json": ["n:5", "b:true", "s:5"], "json_types": ["number", "boolean"]}}"""));

        var options = ResponseTransformerPlugin.Definition.Read(new MapReader(node, "config", []), []);

        Assert.Equal(1024 * 1024, options.MaxBodySize);
        Assert.Equal(["5", "true", "\"5\""], options.Json.Add.Select(e => e.NewValue()!.ToJsonString()));
    }

    [Theory]
    [InlineData("$.user.ssn", """{"user":{"name":"a","ssn":"1"},"ssn":"top"}""", """{"user":{"name":"a"},"ssn":"top"}""")]
    [InlineData("$..password", """{"password":1,"users":[{"password":2,"n":1},{"n":2,"p":{"password":3}}]}""", """{"users":[{"n":1},{"n":2,"p":{}}]}""")]
    [InlineData("$.items[*].secret", """{"items":[{"secret":1,"k":1},{"k":2},"s"],"secret":0}""", """{"items":[{"k":1},{"k":2},"s"],"secret":0}""")]
    [InlineData("$.a[0].b", """{"a":[{"b":1,"c":1},{"b":2}]}""", """{"a":[{"c":1},{"b":2}]}""")]
    [InlineData("$.a[-1]", """{"a":[1,2,3]}""", """{"a":[1,2]}""")]
    [InlineData("$.a[*]", """{"a":[1,2,3]}""", """{"a":[]}""")]
    [InlineData("$.a.*", """{"a":{"x":1,"y":2},"b":1}""", """{"a":{},"b":1}""")]
    [InlineData("$['x-y']", """{"x-y":1,"z":2}""", """{"z":2}""")]
    [InlineData("$[*].pin", """[{"pin":1,"n":1},{"n":2}]""", """[{"n":1},{"n":2}]""")]
    [InlineData("$..tags[0]", """{"tags":[1,2],"x":{"tags":[3]}}""", """{"tags":[2],"x":{"tags":[]}}""")]
    [InlineData("$.missing.deep", """{"a":1}""", """{"a":1}""")]
    public void Json_path_removes_exactly_the_selected_members(string path, string json, string expected)
    {
        var parsed = JsonPath.Parse(path, out var end, out var error);
        var root = JsonNode.Parse(json)!;

        parsed!.Remove(root);

        Assert.Null(error);
        Assert.Equal(path.Length, end);
        Assert.Equal(expected, root.ToJsonString());
    }

    [Theory]
    [InlineData("$.a:1", 3)]
    [InlineData("$['a:b'].c:v", 10)]
    [InlineData("$..x[2]:v", 7)]
    public void Json_path_parsing_stops_at_the_value_separator(string source, int expectedEnd)
    {
        Assert.NotNull(JsonPath.Parse(source, out var end, out _));
        Assert.Equal(expectedEnd, end);
    }
}
