using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Configuration;

/// <summary>
/// Property tests of the declarative parser/validator and the exporter. Hostile documents (random text, random
/// YAML-ish token soup, and valid configs mutated: nodes deleted, duplicated, retyped, replaced by random JSON)
/// end as a <see cref="ConfigLoadResult"/>, never an exception; random valid configs survive export -> import
/// unchanged, in YAML and in JSON. CsCheck prints the seed of a failing sample; replay it with <c>seed: "..."</c>.
/// </summary>
public sealed class KongDeclarativeParserProperties
{
    private const int Iterations = 400;

    [Fact]
    public void Random_text_is_read_or_refused_with_errors_never_an_exception()
    {
        var yamlTokens = Gen.OneOf(
            "_format_version", ": ", "\"3.0\"", "\n", "\n  ", "- ", "services", "routes", "name", "paths", "[", "]", "{", "}", ", ",
            "&a ", "*a", "!!binary ", "!!map ", "<<: *a", "? ", "---\n", "...\n", "%YAML 1.1\n", "|\n  ", "'", "\"", "#", "~", "null",
            "1e400", "0x1F", "\t", "\\u0000", "é", "\ud800");
        Gen.OneOf(
                PropertyGens.AnyChars,
                PropertyGens.Text,
                yamlTokens.Array[0, 40].Select(string.Concat),
                PropertyGens.Json(Gen.OneOf("_format_version", "services", "routes", "name", "host", "x"), depth: 3).Select(j => j?.ToJsonString() ?? "null"))
            .Sample(AssertReadOrRefused, iter: Iterations * 5, threads: 1, print: text => text);
    }

    [Fact]
    public void Mutated_configs_are_read_or_refused_with_errors_never_an_exception()
    {
        var seeds = Gen.OneOf(
            Gen.OneOf(Seed("seed-kong.yaml"), Seed("deck-dump.yaml")),
            ValidConfigs.Select(config => (JsonNode)config));
        var values = PropertyGens.Json(Gen.OneOf("name", "host", "paths", "config", "x"), depth: 2);
        Gen.Select(seeds, JsonMutation.Gen(values, 6), Gen.Int[0, 3])
            .Select((seed, mutations, form) =>
            {
                var json = JsonMutation.Apply(seed, mutations).ToJsonString();
                return form switch
                {
                    // JSON is YAML too: behind a comment line the YAML reader takes it (flow style, quoted strings).
                    1 => "# yaml\n" + json,
                    2 => PropertyGens.WithLoneSurrogate(json),
                    3 => "# yaml\n" + PropertyGens.WithLoneSurrogate(json),
                    _ => json,
                };
            })
            .Sample(AssertReadOrRefused, iter: Iterations * 2, threads: 1, print: text => text);
    }

    /// <summary>Random valid configs: export -> import is the identity (YAML and JSON), and export is a fixed point.</summary>
    [Fact]
    public void Export_then_import_gives_the_same_config()
    {
        ValidConfigs.Sample(
            tree =>
            {
                var original = ParserTests.ParseValid(tree.ToJsonString());

                var yaml = KongDeclarativeExporter.ToYaml(original);
                var fromYaml = ParserTests.ParseValid(yaml);
                var fromJson = ParserTests.ParseValid(KongDeclarativeExporter.ToJson(original));

                Assert.Equal(Canonical(original), Canonical(fromYaml));
                Assert.Equal(Canonical(original), Canonical(fromJson));
                Assert.Equal(yaml, KongDeclarativeExporter.ToYaml(fromYaml));
            },
            iter: Iterations / 3,
            threads: 1,
            print: tree => tree.ToJsonString());
    }

    /// <summary>
    /// The parser's contract: a result, never an exception; no config without errors and no errors with a config;
    /// a document it accepts also survives export -> import.
    /// </summary>
    private static void AssertReadOrRefused(string text)
    {
        var result = KongDeclarativeParser.Parse(text);

        Assert.Equal(result.Config is not null, result.Errors.Count == 0);
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrEmpty(e.Message)));
        if (result.Config is { } config)
        {
            Assert.Equal(Canonical(config), Canonical(ParserTests.ParseValid(KongDeclarativeExporter.ToYaml(config))));
        }
    }

    private static string Canonical(GatewayConfig config) => JsonSerializer.Serialize(config);

    /// <summary>An example config as a JSON tree (scalars typed as YAML would read them).</summary>
    private static JsonNode Seed(string example) => ToJson(ConfigNode.Parse(ParserTests.Example(example)))!;

    private static JsonNode? ToJson(ConfigNode node) => node.Kind switch
    {
        ConfigNodeKind.Map => new JsonObject(node.Entries.Select(e => KeyValuePair.Create(e.Key, ToJson(e.Value)))),
        ConfigNodeKind.List => new JsonArray([.. node.Items.Select(ToJson)]),
        ConfigNodeKind.Scalar when !node.Quoted && (node.TryGetInt(out _) || node.TryGetBool(out _) || double.TryParse(node.Text, System.Globalization.CultureInfo.InvariantCulture, out _)) =>
            JsonNode.Parse(node.TryGetBool(out var flag) ? (flag ? "true" : "false") : node.Text),
        ConfigNodeKind.Scalar => JsonValue.Create(node.Text),
        _ => null,
    };

    // ---- valid config generators ----

    private static readonly Gen<string> Label = Gen.Select(Gen.Char['a', 'z'], PropertyGens.StringOf("abcxyz0189-", 0, 6))
        .Select((first, rest) => first + rest.TrimEnd('-'));

    private static readonly Gen<string> HostNames = Label.Array[1, 3].Select(labels => string.Join('.', labels));

    /// <summary>Tags: printable text without commas, including what YAML would read as something else unquoted.</summary>
    private static readonly Gen<string> Tags = Gen.Frequency(
        (3, PropertyGens.Text.Where(t => t.Length > 0 && !t.Any(c => char.IsControl(c) || c == ','))),
        (1, Gen.OneOf("123", "0x10", "1e3", "true", "no", "null", "~", "- x", "a: b", "#c", "'q'", "\"dq\"", " lead", "trail ", "*ref", "&anchor", "!tag", "%x", "@at", "`tick")));

    private static readonly Gen<string[]> TagLists = Tags.Array[0, 3].Select(t => t.Distinct().ToArray());

    private static readonly Gen<JsonObject> Routes = Gen.Select(
        PropertyGens.CanonicalPaths.Array[1, 3],
        Gen.OneOf("GET", "POST", "PUT", "DELETE", "PATCH").Array[0, 3],
        HostNames.Array[0, 2],
        Gen.Bool,
        Gen.Bool,
        Gen.Int[-5, 5],
        TagLists,
        (paths, methods, hosts, strip, preserve, priority, tags) => Members(
            ("paths", Strings(paths.Distinct())),
            ("methods", methods.Length == 0 ? null : Strings(methods.Distinct())),
            ("hosts", hosts.Length == 0 ? null : Strings(hosts.Distinct())),
            ("strip_path", strip),
            ("preserve_host", preserve),
            ("regex_priority", priority),
            ("tags", Strings(tags))));

    private static readonly Gen<JsonObject> Services = Gen.Select(
        HostNames,
        Gen.Int[1, 65535],
        Gen.OneOf("http", "https"),
        Gen.Frequency((1, PropertyGens.CanonicalPaths.Select(p => (string?)p)), (1, Gen.Const((string?)null))),
        Gen.Int[1, 100_000].Array[3],
        Gen.Int[0, 10],
        Gen.Bool,
        Gen.Select(TagLists, Routes.Array[0, 3]),
        (host, port, protocol, path, timeouts, retries, enabled, rest) => Members(
            ("host", host),
            ("port", port),
            ("protocol", protocol),
            ("path", path),
            ("connect_timeout", timeouts[0]),
            ("read_timeout", timeouts[1]),
            ("write_timeout", timeouts[2]),
            ("retries", retries),
            ("enabled", enabled),
            ("tags", Strings(rest.Item1)),
            ("routes", new JsonArray([.. rest.Item2]))));

    private static readonly Gen<JsonObject> Upstreams = Gen.Select(
        Gen.Select(HostNames, Gen.Int[1, 65535], Gen.Int[0, 1000]).Array[0, 4],
        TagLists,
        (targets, tags) => Members(
            ("targets", new JsonArray([.. targets.DistinctBy(t => (t.Item1, t.Item2)).Select(t => Members(("target", $"{t.Item1}:{t.Item2}"), ("weight", t.Item3)))])),
            ("tags", Strings(tags))));

    private static readonly Gen<JsonObject> Consumers = Gen.Select(
        Gen.Frequency((1, Label.Select(l => (string?)l)), (1, Gen.Const((string?)null))),
        Label.Array[0, 2],
        TagLists,
        (customId, groups, tags) => Members(
            ("custom_id", customId),
            ("acls", new JsonArray([.. groups.Distinct().Select(g => Members(("group", g)))])),
            ("tags", Strings(tags))));

    /// <summary>Plugins whose configs are valid, one of each name at most per scope.</summary>
    private static readonly Gen<JsonObject[]> Plugins = Gen.OneOf(
            Gen.Const(() => Members(("name", "cors"))),
            Gen.Int[1, 10_000].Select(n => Members(("name", "rate-limiting"), ("config", Members(("minute", n), ("policy", "local"))))),
            Label.Select(value => RequestTransformer("x-tag:" + value)),
            Gen.Const(() => Members(("name", "correlation-id"))))
        .Array[0, 3]
        .Select(plugins => plugins.DistinctBy(p => p["name"]!.GetValue<string>()).ToArray());

    /// <summary>A valid declarative config: services with routes, upstreams with targets, consumers, global and service plugins.</summary>
    private static readonly Gen<JsonObject> ValidConfigs = Gen.Select(
        Gen.Select(Services, Plugins).Array[0, 3],
        Upstreams.Array[0, 2],
        Consumers.Array[0, 3],
        Plugins,
        (services, upstreams, consumers, plugins) =>
        {
            for (var i = 0; i < services.Length; i++)
            {
                var (service, servicePlugins) = services[i];
                service["name"] = $"s{i}";
                var routes = service["routes"]!.AsArray();
                for (var j = 0; j < routes.Count; j++)
                {
                    routes[j]!["name"] = $"s{i}-r{j}";
                }

                service["plugins"] = new JsonArray([.. servicePlugins]);
            }

            for (var i = 0; i < upstreams.Length; i++)
            {
                upstreams[i]["name"] = $"u{i}.pool";
            }

            for (var i = 0; i < consumers.Length; i++)
            {
                consumers[i]["username"] = $"c{i}";
            }

            return Members(
                ("_format_version", "3.0"),
                ("services", new JsonArray([.. services.Select(s => s.Item1)])),
                ("upstreams", new JsonArray([.. upstreams])),
                ("consumers", new JsonArray([.. consumers])),
                ("plugins", new JsonArray([.. plugins])));
        });

    private static JsonObject RequestTransformer(string header) =>
        Members(("name", "request-transformer"), ("config", Members(("add", Members(("headers", Strings([header])))))));

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);

    /// <summary>An object of the members whose value is not null (null means: leave the field out).</summary>
    private static JsonObject Members(params (string Name, object? Value)[] members)
    {
        var obj = new JsonObject();
        foreach (var (name, value) in members)
        {
            obj[name] = value switch
            {
                null => null,
                JsonNode node => node,
                string s => JsonValue.Create(s),
                int n => JsonValue.Create(n),
                bool b => JsonValue.Create(b),
                _ => throw new ArgumentException(value.GetType().Name),
            };
            if (value is null)
            {
                obj.Remove(name);
            }
        }

        return obj;
    }
}
