using System.Buffers;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Transforms;

/// <summary>
/// The bytes response-transformer read while deciding (a pooled buffer), then the rest of the upstream body,
/// unread: what YARP streams to the client when a body is left untouched after its start was buffered.
/// Disposing it returns the buffer and disposes the upstream body.
/// </summary>
internal sealed class ReplayStream(byte[] buffered, int bufferedCount, Stream rest, IDisposable upstreamContent) : ReadOnlyBodyStream
{
    private byte[]? _buffered = buffered;
    private int _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => TryReadBuffered(buffer, out var read) ? read : rest.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        TryReadBuffered(buffer.Span, out var read) ? ValueTask.FromResult(read) : rest.ReadAsync(buffer, cancellationToken);

    private bool TryReadBuffered(Span<byte> destination, out int read)
    {
        read = 0;
        var source = _buffered;
        if (source is null || _position >= bufferedCount || destination.Length == 0)
        {
            return false;
        }

        read = Math.Min(destination.Length, bufferedCount - _position);
        source.AsSpan(_position, read).CopyTo(destination);
        _position += read;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _buffered, null) is { } pooled)
        {
            ArrayPool<byte>.Shared.Return(pooled);
            rest.Dispose();
            upstreamContent.Dispose();
        }

        base.Dispose(disposing);
    }
}
