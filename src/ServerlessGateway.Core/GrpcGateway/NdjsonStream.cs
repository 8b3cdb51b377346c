using System.Buffers;
using System.Text.Json;
using Google.Protobuf;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// A server-streaming response as newline-delimited JSON (our extension, docs/grpc-gateway.md): one line per
/// gRPC message, converted as it arrives, and, when the call ends with a non-OK status after messages were
/// sent (the HTTP status is long gone), a last line <c>{"error":{"code":..,"status":..,"message":..}}</c>.
/// </summary>
internal sealed class NdjsonStream(GrpcFrameReader frames, ByteString first, Func<ByteString, ReadOnlyMemory<byte>> toJson, Func<(int Code, string Message)> status)
    : Stream
{
    private ReadOnlyMemory<byte> _pending = toJson(first);
    private bool _done;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_pending.IsEmpty)
        {
            if (_done)
            {
                return 0;
            }

            var (outcome, message) = await frames.ReadAsync(cancellationToken);
            switch (outcome)
            {
                case GrpcFrameReader.Outcome.Message:
                    _pending = toJson(message);
                    break;
                case GrpcFrameReader.Outcome.End:
                    _done = true;
                    var (code, text) = status();
                    if (code != 0)
                    {
                        _pending = ErrorLine(code, text);
                    }

                    break;
                default:
                    // The client already has a 200: a broken stream can only be cut off.
                    throw new IOException($"the gRPC response stream is invalid ({outcome})");
            }
        }

        var count = Math.Min(buffer.Length, _pending.Length);
        _pending[..count].CopyTo(buffer);
        _pending = _pending[count..];
        return count;
    }

    /// <summary>YARP reads asynchronously; a blocking read would hold a thread for the whole stream.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read this stream asynchronously");

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    internal static ReadOnlyMemory<byte> ErrorLine(int code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteNumber("code", code);
            writer.WriteString("status", GrpcStatus.Name(code));
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
