using ServerlessGateway.Runtime;

namespace ServerlessGateway.RequestGuards;

/// <summary>
/// A read-only request body that fails once it would pass <c>limit</c> bytes: the read that crosses
/// the limit hands out nothing, so the backend never receives more than the limit. The failure is
/// recorded on the request feature, where the pipeline turns the aborted forward into a 413.
/// </summary>
internal sealed class SizeLimitedStream(Stream inner, long limit, GatewayRequestFeature feature) : ReadOnlyBodyStream
{
    private long _read;

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    private int Count(int read)
    {
        _read += read;
        if (_read > limit)
        {
            feature.RequestBodyTooLarge = true;
            throw new IOException($"the request body exceeds the {limit}-byte limit");
        }

        return read;
    }
}
