using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Routing;
using ServerlessGateway.Runtime;
using ServerlessGateway.Tests.Configuration;

namespace ServerlessGateway.Tests.Routing;

/// <summary>
/// Property tests of <see cref="PathCanonicalizer"/> and the <see cref="Router"/> over random paths: the canonical
/// form is a fixed point, encoded '/', '\' and NUL never pass, and every equivalent spelling of a path (escaped
/// unreserved characters, either hex case, "." and "x/.." segments, repeated '/') routes as the path itself.
/// CsCheck prints the seed of a failing sample; replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed partial class RoutingProperties
{
    private const int Iterations = 2000;

    /// <summary>Raw request paths: canonical pieces mixed with every awkward spelling this gateway must handle.</summary>
    private static readonly Gen<string> RawSegment = Gen.Frequency(
        (6, PropertyGens.CanonicalSegment),
        (3, Gen.OneOf("", ".", "..", "%2e", "%2E%2e", ".%2E", "%41", "%7e", "%c3%a9", "a%3fb", ";x", "..;", ".;p=1", "%2e%2e;")),
        (1, Gen.OneOf("%2F", "%2f", "%5C", "%5c", "%00", "\\", "%", "%g1", "%4", "%c0%af", "%e0%80%af", "%ef%bc%8f", "\u00e9", " ", "\u0000", "?", "#")),
        (1, PropertyGens.AnyChars));

    private static readonly Gen<string> RawPaths = Gen.Select(RawSegment.Array[0, 8], Gen.Frequency((9, Gen.Const("/")), (1, Gen.OneOf("", "a", "//", "\\"))))
        .Select((segments, lead) => lead + string.Join('/', segments));

    [Fact]
    public void Canonicalizing_never_throws_and_a_canonical_path_is_its_own_canonical_form()
    {
        RawPaths.Sample(
            raw =>
            {
                var error = PathCanonicalizer.TryCanonicalize(raw, out var canonical);
                if (error != CanonicalPathError.None)
                {
                    return;
                }

                Assert.StartsWith("/", canonical, StringComparison.Ordinal);
                Assert.DoesNotContain("//", canonical, StringComparison.Ordinal);
                Assert.DoesNotMatch(DotSegment(), canonical);
                Assert.DoesNotMatch(NonCanonicalEscape(), canonical);
                Assert.Equal(CanonicalPathError.None, PathCanonicalizer.TryCanonicalize(canonical, out var again));
                Assert.Equal(canonical, again);
                Assert.True(PathCanonicalizer.IsCanonical(canonical));
            },
            iter: Iterations,
            threads: 1,
            print: raw => raw);
    }

    [Fact]
    public void Encoded_slash_backslash_or_nul_and_a_raw_backslash_are_always_refused()
    {
        Gen.Select(RawPaths, Gen.OneOf("%2F", "%2f", "%5C", "%5c", "%00", "\\"), Gen.Int[0, 1 << 20])
            .Select((raw, bad, at) => raw.Insert(Math.Min(raw.Length, 1 + (at % Math.Max(raw.Length, 1))), bad))
            .Sample(
                raw => Assert.NotEqual(CanonicalPathError.None, PathCanonicalizer.TryCanonicalize(raw, out _)),
                iter: Iterations,
                threads: 1,
                print: raw => raw);
    }

    [Fact]
    public void Every_equivalent_spelling_of_a_path_canonicalizes_to_it()
    {
        Gen.Select(PropertyGens.CanonicalPaths, Spellings).Sample(
            (path, respell) =>
            {
                Assert.True(PathCanonicalizer.IsCanonical(path), $"generator: {path} is not canonical");
                var variant = respell(path);

                Assert.Equal(CanonicalPathError.None, PathCanonicalizer.TryCanonicalize(variant, out var canonical));
                Assert.Equal(path, canonical);
            },
            iter: Iterations,
            threads: 1,
            print: t => $"{t.Item1} spelled {t.Item2(t.Item1)}");
    }

    /// <summary>
    /// Random route tables (prefix and regex paths, priorities, methods): a request routes the same whichever
    /// equivalent spelling it uses, a match on a prefix path is a real prefix of the request path, and a request
    /// under a prefix of an unconstrained route is always routed somewhere.
    /// </summary>
    [Fact]
    public void Equivalent_spellings_route_alike_and_prefix_matches_are_real_prefixes()
    {
        var requests = Gen.Select(PropertyGens.CanonicalPaths, Spellings, Gen.OneOf("GET", "POST")).Array[1, 8];
        Gen.Select(RouteTables, requests).Sample(
            (routes, requests) =>
            {
                var router = GatewaySnapshot.Compile(ParserTests.ParseValid(Yaml(routes)), "t").Router;
                foreach (var (path, respell, method) in requests)
                {
                    var variant = respell(path);
                    var matched = Match(router, method, path, out var match);

                    Assert.Equal(CanonicalPathError.None, PathCanonicalizer.TryCanonicalize(variant, out var canonical));
                    Assert.Equal(matched, Match(router, method, canonical, out var variantMatch));
                    Assert.Equal(match.Route?.Config.Name, variantMatch.Route?.Config.Name);
                    if (matched && match.RegexMatch is null && match.Route!.Config.Paths.Count > 0)
                    {
                        Assert.Contains(match.Route.Config.Paths, p => p.Length == match.MatchedLength && path.StartsWith(p, StringComparison.Ordinal));
                    }

                    if (routes.Any(r => r.Methods is null && r.Paths.Any(p => !p.StartsWith('~') && path.StartsWith(p, StringComparison.Ordinal))))
                    {
                        Assert.True(matched, $"{path} is under a prefix of a route without other conditions");
                    }
                }
            },
            iter: Iterations / 10,
            threads: 1,
            print: t => Yaml(t.Item1) + "\nrequests: " + string.Join(", ", t.Item2.Select(r => $"{r.Item3} {r.Item1} spelled {r.Item2(r.Item1)}")));
    }

    private static bool Match(Router router, string method, string path, out RouteMatch match) =>
        router.TryMatch(method, "gw.local", 80, path, new HeaderDictionary(), out match);

    private sealed record Route(string[] Paths, string[]? Methods, int RegexPriority);

    private static readonly Gen<Route> Routes = Gen.Select(
        Gen.Frequency(
            (4, PropertyGens.CanonicalPaths),
            (1, Gen.OneOf("~/api/\\d+", "~/a$", "~/users/(?<id>[^/]+)", "~^/v1/.*", "~/%C3%A9"))).Array[1, 3],
        Gen.Frequency((3, Gen.Const((string[]?)null)), (1, Gen.OneOf<string[]?>(["GET"], ["POST", "PUT"]))),
        Gen.Int[-2, 2],
        (paths, methods, priority) => new Route(paths.Distinct().ToArray(), methods, priority));

    private static readonly Gen<Route[]> RouteTables = Routes.Array[1, 6];

    private static string Yaml(Route[] routes)
    {
        var yaml = new StringBuilder("_format_version: \"3.0\"\nservices:\n- name: s\n  host: s.internal\n  routes:\n");
        for (var i = 0; i < routes.Length; i++)
        {
            var r = routes[i];
            yaml.Append($"  - name: r{i}\n    regex_priority: {r.RegexPriority}\n    paths: [{string.Join(", ", r.Paths.Select(Quote))}]\n");
            if (r.Methods is not null)
            {
                yaml.Append($"    methods: [{string.Join(", ", r.Methods)}]\n");
            }
        }

        return yaml.ToString();
    }

    private static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// A function that respells a canonical path without changing what it means: each unreserved character
    /// possibly percent-encoded (upper- or lower-case hex), escapes in lower case, "." and "x/.." segments and
    /// extra '/' inserted between segments.
    /// </summary>
    private static readonly Gen<Func<string, string>> Spellings = Gen.Select(Gen.Int[0, 7].Array[64], Gen.Int[0, 3]).Select((choices, density) =>
        (Func<string, string>)(path =>
        {
            var output = new StringBuilder();
            var n = 0;
            int Next() => choices[n++ % choices.Length];
            for (var i = 0; i < path.Length; i++)
            {
                var c = path[i];
                if (c == '/')
                {
                    output.Append('/');
                    if (Next() < density)
                    {
                        output.Append(Next() switch { 0 or 1 => "./", 2 => "/", 3 => "%2e/", 4 => "zz/../", 5 => "%7A/%2E%2E/", _ => "//./" });
                    }
                }
                else if (c == '%' && i + 2 < path.Length)
                {
                    output.Append(Next() < 4 ? path.Substring(i, 3).ToLowerInvariant() : path.Substring(i, 3));
                    i += 2;
                }
                else if (IsUnreserved(c) && Next() < density)
                {
                    var hex = ((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture);
                    output.Append('%').Append(Next() < 4 ? hex.ToLowerInvariant() : hex);
                }
                else
                {
                    output.Append(c);
                }
            }

            return output.ToString();
        }));

    private static bool IsUnreserved(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    [GeneratedRegex(@"(^|/)\.\.?(/|$)")]
    private static partial Regex DotSegment();

    /// <summary>An escape in lower-case hex, or of an unreserved character (which must appear decoded).</summary>
    [GeneratedRegex(@"%([0-9A-Fa-f][a-f]|[a-f][0-9A-Fa-f]|[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[dDeE]|5[fF]|7[eE])")]
    private static partial Regex NonCanonicalEscape();
}
