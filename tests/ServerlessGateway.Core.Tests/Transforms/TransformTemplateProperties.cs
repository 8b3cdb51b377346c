using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;
using ServerlessGateway.Tests.Authentication;
using ServerlessGateway.Tests.Configuration;
using ServerlessGateway.Transforms;

namespace ServerlessGateway.Tests.Transforms;

/// <summary>
/// Property tests of request-transformer's <c>$(...)</c> templates (<see cref="TransformTemplate"/>): any text
/// compiles or is refused with an error, text without <c>$(</c> is its own value, and a template of literals and
/// lookups renders as the literals with each lookup's value (empty when missing) in between.
/// CsCheck prints the seed of a failing sample; replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed class TransformTemplateProperties
{
    private const int Iterations = 1500;

    /// <summary>The request every render sees: these headers, query parameters, captures, consumer and claims.</summary>
    private static readonly Dictionary<string, string> Headers = new() { ["x-a"] = "h1", ["X-Long-Name"] = "h2", ["x_u"] = "h3" };

    private const string Query = "?q=v1&q=v2&empty=&flag&sp=a%20b";
    private const string Path = "/items/abc/42";

    private static readonly GatewayContext Context = NewContext();

    /// <summary>One piece of a template: its source text and what it renders to in <see cref="Context"/>.</summary>
    private static readonly Gen<(string Source, string Rendered)> Pieces = Gen.Frequency(
        (4, PropertyGens.Text.Select(t => t.Replace("$", "", StringComparison.Ordinal)).Select(t => (t, t))),
        (1, Gen.OneOf("$", "$ (", ")", "(", "\"", "'").Select(t => (t, t))),
        (1, Gen.OneOf(
            ("$(headers[\"x-a\"])", "h1"), ("$(headers['X-A'])", "h1"), ("$(headers.x_a)", "h1"), ("$(headers.x_long_name)", "h2"),
            ("$(headers[\"x_u\"])", "h3"), ("$(headers.missing)", ""),
            ("$(query_params.q)", "v1"), ("$(query_params['empty'])", ""), ("$(query_params.flag)", ""), ("$(query_params.sp)", "a b"), ("$(query_params.none)", ""),
            ("$(uri_captures[0])", "/items/abc/42"), ("$(uri_captures[1])", "abc"), ("$(uri_captures.id)", "42"), ("$(uri_captures[9])", ""), ("$(uri_captures.nope)", ""),
            ("$(consumer.username)", "alice"), ("$(claims.sub)", "user-7"), ("$(claims[\"n\"])", "5"), ("$(claims.missing)", ""),
            ("$(route.name)", "r"), ("$(service.name)", "s"), ("$( route.name )", "r"))));

    [Fact]
    public void Any_text_compiles_or_is_refused_with_an_error()
    {
        var sources = Gen.OneOf(
            PropertyGens.AnyChars,
            Gen.Select(PropertyGens.Text, Gen.OneOf("$(", "$()", "$(headers", "$(headers[\"a)\"])", "$(uri_captures[99999999999])", "$(claims.é)", ")"), PropertyGens.Text)
                .Select((a, b, c) => a + b + c),
            Pieces.Array[0, 6].Select(p => string.Concat(p.Select(x => x.Source))));
        sources.Sample(
            source =>
            {
                var template = TransformTemplate.Compile(source, out var error);

                Assert.Equal(template is null, error is not null);
                if (template is not null)
                {
                    Assert.NotNull(template.Render(Context));
                }

                if (!source.Contains("$(", StringComparison.Ordinal))
                {
                    Assert.Equal(source, template?.Literal);
                    Assert.Equal(source, template!.Render(Context));
                }
            },
            iter: Iterations,
            threads: 1,
            print: source => source);
    }

    [Fact]
    public void A_template_renders_its_literals_and_each_lookups_value()
    {
        Pieces.Array[0, 6]
            .Where(Unambiguous)
            .Sample(
                pieces =>
                {
                    var source = string.Concat(pieces.Select(p => p.Source));

                    var template = TransformTemplate.Compile(source, out var error);

                    Assert.Null(error);
                    Assert.Equal(string.Concat(pieces.Select(p => p.Rendered)), template!.Render(Context));
                },
                iter: Iterations,
                threads: 1,
                print: pieces => string.Concat(pieces.Select(p => p.Source)));
    }

    /// <summary>False when literal pieces join into the start of an expression ("$" then "(", maybe with empty pieces between).</summary>
    private static bool Unambiguous((string Source, string Rendered)[] pieces) =>
        Regex.Count(string.Concat(pieces.Select(p => p.Source)), @"\$\(") == pieces.Count(p => p.Source.StartsWith("$(", StringComparison.Ordinal));

    private static GatewayContext NewContext()
    {
        var config = ParserTests.ParseValid("""
            _format_version: "3.0"
            services:
            - name: s
              host: s.internal
              routes:
              - {name: r, paths: ["~/items/(?<name>[a-z]+)/(?<id>\\d+)"]}
            consumers:
            - username: alice
            """);
        var snapshot = GatewaySnapshot.Compile(config, "t");
        Assert.True(snapshot.Router.TryMatch("GET", "h", 80, Path, new HeaderDictionary(), out var match));
        var http = new DefaultHttpContext();
        foreach (var (name, value) in Headers)
        {
            http.Request.Headers[name] = value;
        }

        var feature = new GatewayRequestFeature
        {
            Path = Path,
            Query = Query,
            Match = match,
            Consumer = config.Consumers[0],
            Claims = new Dictionary<string, object?> { ["sub"] = "user-7", ["n"] = 5L },
        };
        return new GatewayContext(http, feature, snapshot, JwtHarness.NewRuntime(TimeProvider.System, new CredentialProtector(null)));
    }
}
