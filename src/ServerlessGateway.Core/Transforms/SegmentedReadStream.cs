namespace ServerlessGateway.Transforms;

/// <summary>
/// A read-only stream over byte segments in order: an edited body whose untouched parts are slices of the
/// buffered request, so they are sent without a second copy of the body in memory.
/// </summary>
internal sealed class SegmentedReadStream(IReadOnlyList<ReadOnlyMemory<byte>> segments) : Stream
{
    private int _segment;
    private int _offset;
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length && _segment < segments.Count)
        {
            var source = segments[_segment].Span[_offset..];
            var count = Math.Min(source.Length, buffer.Length - written);
            source[..count].CopyTo(buffer[written..]);
            written += count;
            _offset += count;
            if (_offset == segments[_segment].Length)
            {
                _segment++;
                _offset = 0;
            }
        }

        _position += written;
        return written;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
