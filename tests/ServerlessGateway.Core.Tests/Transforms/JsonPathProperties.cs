using System.Text.Json.Nodes;
using CsCheck;
using ServerlessGateway.Transforms;

namespace ServerlessGateway.Tests.Transforms;

/// <summary>
/// Property tests of response-transformer's JSON paths (<see cref="JsonPath"/>) over random paths and random
/// documents. CsCheck prints the seed of a failing sample; replay it with <c>seed: "..."</c> on the Sample call.
/// </summary>
public sealed class JsonPathProperties
{
    private const int Iterations = 1500;
    private const string Marker = "marker!";

    private static readonly Gen<string> Names = Gen.OneOf("a", "b", "c", "x");

    /// <summary>A path segment, with whether it selects by array index and whether it descends recursively.</summary>
    private static readonly Gen<(string Text, bool Index, bool Recursive)> Segments = Gen.OneOf(
        Names.Select(n => ("." + n, false, false)),
        Names.Select(n => (".." + n, false, true)),
        Names.Select(n => ("['" + n + "']", false, false)),
        Names.Select(n => ("[\"" + n + "\"]", false, false)),
        Names.Select(n => ("..['" + n + "']", false, true)),
        Gen.OneOf((".*", false, false), ("[*]", false, false), ("..*", false, true), ("..[*]", false, true)),
        Gen.Int[-3, 3].Select(i => ($"[{i}]", true, false)),
        Gen.Int[-3, 3].Select(i => ($"..[{i}]", true, true)));

    /// <summary>Text a path must refuse or stop at: filters, slices, unions, unterminated brackets and quotes.</summary>
    private static readonly Gen<string> Junk = Gen.OneOf(
        "[", "]", "[?(@.a)]", "[0:2]", "[0,1]", ".", "..", "['open", "[\"a\\", "[99999999999]", "[-]", "[ 0]", ":value", " ", "$", "é", "[*", "['a'");

    private static readonly Gen<(string Source, bool Index, bool Recursive)> Paths =
        Segments.Array[1, 4].Select(segments => (
            "$" + string.Concat(segments.Select(s => s.Text)),
            segments.Any(s => s.Index),
            segments.Any(s => s.Recursive)));

    private static readonly Gen<JsonNode> Documents = PropertyGens.Json(Names, depth: 4).Select(json => json ?? JsonValue.Create(0));

    [Fact]
    public void Parsing_any_text_gives_a_path_or_an_error_and_a_path_reparses_to_itself()
    {
        var sources = Gen.OneOf(
            Paths.Select(p => p.Source),
            Gen.Select(Paths, Junk, Paths).Select((a, junk, b) => a.Source + junk + b.Source[1..]),
            Gen.Select(Gen.OneOf("$.", "$["), PropertyGens.AnyChars).Select((start, rest) => start + rest));
        sources.Sample(
            source =>
            {
                var path = JsonPath.Parse(source, out var end, out var error);

                Assert.Equal(path is null, error is not null);
                if (path is not null)
                {
                    Assert.InRange(end, 2, source.Length);
                    Assert.Equal(source[..end], path.Text);
                    var again = JsonPath.Parse(path.Text, out var endAgain, out var errorAgain);
                    Assert.Null(errorAgain);
                    Assert.Equal(path.Text, again!.Text);
                    Assert.Equal(path.Text.Length, endAgain);
                }
            },
            iter: Iterations,
            threads: 1,
            print: source => source);
    }

    /// <summary>After a remove, a path without index selectors selects nothing (removing never creates what it removed).</summary>
    [Fact]
    public void After_remove_nothing_is_left_to_select()
    {
        Gen.Select(Paths, Documents).Sample(
            (path, document) =>
            {
                var parsed = Parse(path.Source);

                parsed.Remove(document);

                if (!path.Index)
                {
                    Assert.Equal(0, parsed.Replace(document, () => null));
                }
            },
            iter: Iterations,
            threads: 1,
            print: t => $"{t.Item1.Source} on {t.Item2.ToJsonString()}");
    }

    /// <summary>
    /// A non-recursive path: replace puts one fresh value at each selected member (as many as it reports), and
    /// replacing again selects the same members.
    /// </summary>
    [Fact]
    public void Replace_sets_every_selected_member_once()
    {
        Gen.Select(Paths.Where(p => !p.Recursive), Documents).Sample(
            (path, document) =>
            {
                var parsed = Parse(path.Source);

                var count = parsed.Replace(document, () => new JsonObject { [Marker] = true });

                Assert.Equal(count, CountMarkers(document));
                Assert.Equal(count, parsed.Replace(document, () => new JsonObject { [Marker] = true }));
            },
            iter: Iterations,
            threads: 1,
            print: t => $"{t.Item1.Source} on {t.Item2.ToJsonString()}");
    }

    private static JsonPath Parse(string source)
    {
        var path = JsonPath.Parse(source, out var end, out var error);
        Assert.True(path is not null && end == source.Length, $"{source}: {error}");
        return path!;
    }

    private static int CountMarkers(JsonNode? node) => node switch
    {
        JsonObject obj when obj.ContainsKey(Marker) => 1,
        JsonObject obj => obj.Sum(member => CountMarkers(member.Value)),
        JsonArray array => array.Sum(CountMarkers),
        _ => 0,
    };
}
