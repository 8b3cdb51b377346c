namespace ServerlessGateway.Runtime;

/// <summary>
/// The members every read-only, forward-only body wrapper of the gateway shares (a request body held to
/// a limit, a response body replayed after its start was read); subclasses implement the reads.
/// </summary>
internal abstract class ReadOnlyBodyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
