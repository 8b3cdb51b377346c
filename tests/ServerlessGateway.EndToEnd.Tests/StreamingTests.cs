using System.Net;
using Xunit.Abstractions;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests;

[CollectionDefinition(nameof(StreamingTests), DisableParallelization = true)]
public sealed class StreamingCollection;

/// <summary>
/// 50 MB each way through the gateway. Streaming is proven two ways: the backend sees the first
/// upload bytes while the client is still holding the rest back (a buffering proxy would deadlock),
/// and the process allocates far less than the body size while the bodies pass.
/// </summary>
[Collection(nameof(StreamingTests))]
public sealed class StreamingTests(ITestOutputHelper output)
{
    private const long Size = 50L * 1024 * 1024;
    private const long AllocationBudget = 16L * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    public async Task A_50_MB_upload_streams_through_with_bounded_memory()
    {
        var firstBytesSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                total += read;
                if (total >= 1024 * 1024)
                {
                    firstBytesSeen.TrySetResult();
                }
            }

            await context.Response.WriteAsync(total.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));
        await WarmUpAsync(gateway);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var content = new PatternContent(Size, holdAfter: 2 * 1024 * 1024, release: firstBytesSeen.Task);
        var response = await gateway.Client.PostAsync("/up", content);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        output.WriteLine($"upload: {allocated / 1024} KiB allocated for {Size / 1024 / 1024} MiB");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Size.ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
        Assert.True(allocated < AllocationBudget, $"allocated {allocated / 1024 / 1024} MB while streaming {Size / 1024 / 1024} MB");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_50_MB_download_streams_through_with_bounded_memory()
    {
        var clientGotFirstBytes = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            if (context.Request.Path != "/down")
            {
                await context.Request.Body.CopyToAsync(Stream.Null);
                return;
            }

            context.Response.ContentLength = Size;
            var chunk = new byte[64 * 1024];
            for (long sent = 0; sent < Size; sent += chunk.Length)
            {
                if (sent == 4 * 1024 * 1024)
                {
                    // Hold the rest until the client has read the start: a buffering proxy never lets it.
                    await context.Response.Body.FlushAsync();
                    await clientGotFirstBytes.Task.WaitAsync(TimeSpan.FromSeconds(30));
                }

                await context.Response.Body.WriteAsync(chunk);
            }
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));
        await WarmUpAsync(gateway);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await gateway.Client.GetAsync("/down", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            total += read;
            if (total >= 1024 * 1024)
            {
                clientGotFirstBytes.TrySetResult();
            }
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        output.WriteLine($"download: {allocated / 1024} KiB allocated for {Size / 1024 / 1024} MiB");
        Assert.Equal(Size, total);
        Assert.True(allocated < AllocationBudget, $"allocated {allocated / 1024 / 1024} MB while streaming {Size / 1024 / 1024} MB");
    }

    private static string Config(string url) =>
        $"_format_version: \"3.0\"\nservices:\n- {{name: s, url: \"{url}\", routes: [{{name: r, paths: [/]}}]}}\n";

    private static async Task WarmUpAsync(TestGateway gateway)
    {
        // First requests JIT and size pools; they are not what is measured.
        for (var i = 0; i < 3; i++)
        {
            using var warm = new PatternContent(256 * 1024, holdAfter: long.MaxValue, release: Task.CompletedTask);
            (await gateway.Client.PostAsync("/up", warm)).Dispose();
        }
    }

    /// <summary>A generated body that stops after <c>holdAfter</c> bytes until <c>release</c> completes.</summary>
    private sealed class PatternContent(long size, long holdAfter, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i] = (byte)(i * 31);
            }

            for (long sent = 0; sent < size;)
            {
                if (sent >= holdAfter)
                {
                    await release.WaitAsync(TimeSpan.FromSeconds(30));
                }

                var count = (int)Math.Min(chunk.Length, size - sent);
                await stream.WriteAsync(chunk.AsMemory(0, count));
                sent += count;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return true;
        }
    }
}
