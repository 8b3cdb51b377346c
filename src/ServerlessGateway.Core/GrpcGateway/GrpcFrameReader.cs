using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// Reads gRPC length-prefixed messages (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
/// a compressed flag, a 4-byte big-endian length, the message. A compressed message is inflated when the
/// response's <c>grpc-encoding</c> is gzip; anything else is an invalid response.
/// </summary>
internal sealed class GrpcFrameReader(Stream stream, int maxMessageSize, bool gzip)
{
    public enum Outcome { Message, End, TooLarge, Truncated, Unsupported }

    private readonly byte[] _header = new byte[5];

    public async ValueTask<(Outcome Outcome, ByteString Message)> ReadAsync(CancellationToken cancellationToken)
    {
        var read = await stream.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, cancellationToken);
        if (read == 0)
        {
            return (Outcome.End, ByteString.Empty);
        }

        if (read < _header.Length)
        {
            return (Outcome.Truncated, ByteString.Empty);
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
        if (length > (uint)maxMessageSize)
        {
            return (Outcome.TooLarge, ByteString.Empty);
        }

        var message = new byte[length];
        if (await stream.ReadAtLeastAsync(message, message.Length, throwOnEndOfStream: false, cancellationToken) < message.Length)
        {
            return (Outcome.Truncated, ByteString.Empty);
        }

        switch (_header[0])
        {
            case 0:
                return (Outcome.Message, UnsafeByteOperations.UnsafeWrap(message));
            case 1 when gzip:
                return await InflateAsync(message, cancellationToken);
            default:
                return (Outcome.Unsupported, ByteString.Empty);
        }
    }

    private async ValueTask<(Outcome, ByteString)> InflateAsync(byte[] compressed, CancellationToken cancellationToken)
    {
        await using var inflater = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await inflater.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (output.Length + read > maxMessageSize)
            {
                return (Outcome.TooLarge, ByteString.Empty);
            }

            output.Write(buffer, 0, read);
        }

        return (Outcome.Message, UnsafeByteOperations.UnsafeWrap(output.GetBuffer().AsMemory(0, (int)output.Length)));
    }

    /// <summary>Frames one request message (never compressed).</summary>
    public static byte[] Frame(ByteString message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.Span.CopyTo(frame.AsSpan(5));
        return frame;
    }
}
