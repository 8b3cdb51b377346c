using System.Net;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;
using ServerlessGateway.Observability;
using Xunit.Abstractions;

namespace ServerlessGateway.EndToEnd.Tests;

/// <summary>
/// 100 MB downloads through a route with response-transformer body operations: a non-JSON body and a
/// JSON body over max_body_size (with and without Content-Length) are never buffered whole. Proven as
/// <see cref="StreamingTests"/> does: the backend holds the rest of the body until the client has read
/// the start (a buffering gateway would never let it), and the process allocates far less than the body.
/// </summary>
[Collection(nameof(StreamingTests))]
public sealed class ResponseTransformerStreamingTests(ITestOutputHelper output)
{
    private const long Size = 100L * 1024 * 1024;
    private const long AllocationBudget = 16L * 1024 * 1024;

    [Theory(Timeout = 180_000)]
    [InlineData("application/octet-stream", true, "content_type")]
    [InlineData("application/json", true, "size")]
    [InlineData("application/json", false, "size")]
    public async Task A_100_MB_response_streams_through_untouched_with_bounded_memory(string contentType, bool withLength, string reason)
    {
        var clientGotFirstBytes = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            var measured = context.Request.Path == "/down"; // the route strips /api
            var size = measured ? Size : 2 * 1024 * 1024;
            context.Response.ContentType = contentType;
            if (withLength)
            {
                context.Response.ContentLength = size;
            }

            // A JSON array of 1s: "[1,1,...,1]", written in 64 KiB chunks.
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < chunk.Length; i += 2)
            {
                chunk[i] = (byte)'1';
                chunk[i + 1] = (byte)',';
            }

            chunk[0] = (byte)'[';
            for (long sent = 0; sent < size; sent += chunk.Length)
            {
                if (sent == 4 * 1024 * 1024 && measured)
                {
                    // Hold the rest until the client has read the start: a buffering gateway never lets it.
                    await context.Response.Body.FlushAsync();
                    await clientGotFirstBytes.Task.WaitAsync(TimeSpan.FromSeconds(60));
                }

                var last = sent + chunk.Length >= size;
                await context.Response.Body.WriteAsync(last ? Last(chunk) : chunk);
                chunk[0] = (byte)'1';
            }
        });
        await using var gateway = await TestGateway.StartAsync($$$"""
            _format_version: "3.0"
            services:
            - name: svc
              url: "{{{backend.Url}}}"
              routes:
              - name: rt
                paths: [/api]
              plugins:
              - name: response-transformer
                config: {remove: {json: ["$..secret", gone]}, add: {headers: ["x-transformed:yes"]}}
            """);
        await WarmUpAsync(gateway);
        using var passedThrough = new CounterRecorder(gateway.Services.GetRequiredService<GatewayMetrics>().Meter, "gateway.response_transformer.passthrough");

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await gateway.Client.GetAsync("/api/down", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        var first = -1;
        byte lastByte = 0;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            if (first < 0)
            {
                first = buffer[0];
            }

            total += read;
            lastByte = buffer[read - 1];
            if (total >= 1024 * 1024)
            {
                clientGotFirstBytes.TrySetResult();
            }
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        output.WriteLine($"{contentType} (length {withLength}): {allocated / 1024} KiB allocated for {Size / 1024 / 1024} MiB");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["yes"], response.Headers.GetValues("X-Transformed"));
        Assert.Equal(Size, total);
        Assert.Equal('[', (char)first);
        Assert.Equal(']', (char)lastByte);
        Assert.True(allocated < AllocationBudget, $"allocated {allocated / 1024 / 1024} MB while streaming {Size / 1024 / 1024} MB");
        Assert.Equal(1, passedThrough.Sum("reason", reason));
    }

    private static byte[] Last(byte[] chunk)
    {
        var last = (byte[])chunk.Clone();
        last[^1] = (byte)']';
        return last;
    }

    private static async Task WarmUpAsync(TestGateway gateway)
    {
        // First requests (2 MiB, over max_body_size) JIT and size pools; they are not what is measured.
        for (var i = 0; i < 2; i++)
        {
            using var warm = await gateway.Client.GetAsync("/api/warm", HttpCompletionOption.ResponseHeadersRead);
            await (await warm.Content.ReadAsStreamAsync()).CopyToAsync(Stream.Null);
        }
    }
}
