using System.Text;
using ServerlessGateway.Transforms;

namespace ServerlessGateway.Tests.Transforms;

/// <summary>The multipart scanner and Kong's multipart operations on bodies the end-to-end tests do not send.</summary>
public sealed class MultipartBodyEditorTests
{
    private const string B = "xYz";

    private static RequestTransformerPlugin.Operations Ops(string[]? remove = null, (string, string)[]? rename = null, string[]? add = null) =>
        new(remove ?? [], rename ?? [], [],
            [.. (add ?? []).Select(n => new RequestTransformerPlugin.Entry(n, TransformTemplate.Compile("v", out _)!))], []);

    private static string? Edit(string body, RequestTransformerPlugin.Operations ops, out bool malformed)
    {
        var segments = MultipartBodyEditor.Edit(Encoding.UTF8.GetBytes(body), B, ops, [[], [.. ops.Add.Select(_ => "v")], []], [], out malformed);
        return segments is null ? null : string.Concat(segments.Select(s => Encoding.UTF8.GetString(s.Span)));
    }

    [Theory]
    [InlineData("multipart/form-data; boundary=xYz", "xYz")]
    [InlineData("multipart/form-data; charset=utf-8; boundary=\"a b:c\"", "a b:c")]
    [InlineData("multipart/form-data", null)]
    [InlineData("multipart/form-data; boundary=\"\"", null)]
    [InlineData("multipart/form-data; boundary=01234567890123456789012345678901234567890123456789012345678901234567890", null)]
    public void Boundary_reads_the_quoted_or_token_parameter_of_at_most_70_characters(string contentType, string? expected) =>
        Assert.Equal(expected, MultipartBodyEditor.Boundary(contentType));

    [Fact]
    public void Remove_takes_every_part_of_a_repeated_name_and_reads_utf8_names()
    {
        var body = "--xYz\r\nContent-Disposition: form-data; name=\"r\"\r\n\r\n1\r\n--xYz\r\ncontent-disposition:form-data;name=\"naïve\"\r\n\r\n2\r\n"
            + "--xYz\r\nContent-Disposition: form-data; name=r\r\n\r\n3\r\n--xYz\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n4\r\n--xYz--";

        var edited = Edit(body, Ops(remove: ["r", "naïve"]), out var malformed);

        Assert.False(malformed);
        Assert.Equal("--xYz\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n4\r\n--xYz--\r\n", edited);
    }

    [Fact]
    public void Rename_keeps_the_other_header_lines_and_the_content_of_a_file_part()
    {
        var body = "--xYz\r\nContent-Type: image/png\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a b.png\"\r\nX-Extra:  kept as sent \r\n\r\n\0\r\n\r\n--xYz--\r\n";

        var edited = Edit(body, Ops(rename: [("f", "g")]), out _);

        Assert.Equal("--xYz\r\nContent-Type: image/png\r\nContent-Disposition: form-data; name=\"g\"; filename=\"a b.png\"\r\nX-Extra:  kept as sent \r\n\r\n\0\r\n\r\n--xYz--\r\n", edited);
    }

    [Theory]
    [InlineData("--xYz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xYzz\r\n")]
    [InlineData("--xYz\nContent-Disposition: form-data; name=\"a\"\n\nv\n--xYz--\n")]
    [InlineData("--xYz-\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xYz--")]
    public void A_body_whose_delimiters_are_not_RFC_2046s_is_reported_malformed_and_not_edited(string body)
    {
        var edited = Edit(body, Ops(add: ["n"]), out var malformed);

        Assert.True(malformed);
        Assert.Null(edited);
    }

    [Fact]
    public void No_change_returns_null_so_the_client_bytes_are_forwarded()
    {
        var edited = Edit("--xYz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xYz--", Ops(remove: ["b"], rename: [("c", "d")]), out var malformed);

        Assert.False(malformed);
        Assert.Null(edited);
    }
}
