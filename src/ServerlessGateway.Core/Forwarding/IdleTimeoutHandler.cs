using System.Net;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// Applies <see cref="UpstreamTimeouts"/> to one exchange: wraps the request and response bodies so
/// each write and read is bounded by the write and read timeout, and waiting for the response head
/// by the read timeout. Connecting is bounded by <see cref="UpstreamConnector"/>.
/// </summary>
internal sealed class IdleTimeoutHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(UpstreamTimeouts.OptionKey, out var timeouts))
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var watchdog = new IdleWatchdog(cancellationToken, timeouts);
        request.Options.Set(UpstreamTimeouts.WatchdogKey, watchdog);
        if (request.Content is { } content)
        {
            request.Content = new WatchedRequestContent(content, watchdog);
            watchdog.Arm(timeouts.Write, "write");
        }
        else
        {
            watchdog.Arm(timeouts.Read, "read");
        }

        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, watchdog.Token);
        }
        catch (Exception ex) when (watchdog.ExpiredPhase is not null && !cancellationToken.IsCancellationRequested
                                   && ex is OperationCanceledException or HttpRequestException or IOException)
        {
            var expired = watchdog.Expired();
            watchdog.Dispose();
            throw expired;
        }
        catch
        {
            watchdog.Dispose();
            throw;
        }

        watchdog.Disarm();
        response.Content = new WatchedResponseContent(response.Content, watchdog);
        return response;
    }

    /// <summary>Wraps a body so the watchdog sees its operations; headers and length are the inner body's.</summary>
    private abstract class WatchedContent : HttpContent
    {
        protected WatchedContent(HttpContent inner, IdleWatchdog watchdog)
        {
            Inner = inner;
            Watchdog = watchdog;
            foreach (var header in inner.Headers.NonValidated)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected HttpContent Inner { get; }

        protected IdleWatchdog Watchdog { get; }

        protected override bool TryComputeLength(out long length)
        {
            length = Inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private sealed class WatchedRequestContent(HttpContent inner, IdleWatchdog watchdog) : WatchedContent(inner, watchdog)
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await Inner.CopyToAsync(new WatchedStream(stream, Watchdog), cancellationToken);
            // Request sent: from here on the exchange waits for the response.
            Watchdog.Arm(Watchdog.Timeouts.Read, "read");
        }
    }

    private sealed class WatchedResponseContent(HttpContent inner, IdleWatchdog watchdog) : WatchedContent(inner, watchdog)
    {
        protected override async Task<Stream> CreateContentReadStreamAsync() =>
            new WatchedStream(await Inner.ReadAsStreamAsync(), Watchdog);

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new WatchedStream(await Inner.ReadAsStreamAsync(cancellationToken), Watchdog);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            Inner.CopyToAsync(stream);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Watchdog.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Arms the watchdog around each operation on the upstream connection's body stream.</summary>
    private sealed class WatchedStream(Stream inner, IdleWatchdog watchdog) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            watchdog.Arm(watchdog.Timeouts.Read, "read");
            try
            {
                using var linked = watchdog.LinkFor(cancellationToken, out var token);
                return await inner.ReadAsync(buffer, token);
            }
            catch (Exception ex) when (watchdog.ExpiredPhase is not null && !cancellationToken.IsCancellationRequested
                                       && ex is OperationCanceledException or IOException)
            {
                throw watchdog.Expired();
            }
            finally
            {
                watchdog.Disarm();
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            watchdog.Arm(watchdog.Timeouts.Write, "write");
            try
            {
                using var linked = watchdog.LinkFor(cancellationToken, out var token);
                await inner.WriteAsync(buffer, token);
            }
            catch (Exception ex) when (watchdog.ExpiredPhase is not null && !cancellationToken.IsCancellationRequested
                                       && ex is OperationCanceledException or IOException)
            {
                throw watchdog.Expired();
            }
            finally
            {
                watchdog.Disarm();
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("synchronous I/O");
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("synchronous I/O");
        public override void Flush() => inner.Flush();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
