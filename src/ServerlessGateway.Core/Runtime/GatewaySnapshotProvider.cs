namespace ServerlessGateway.Runtime;

/// <summary>Holds the snapshot requests are served from; swapped atomically, read without locks.</summary>
public sealed class GatewaySnapshotProvider
{
    private volatile GatewaySnapshot? _current;

    /// <summary>The snapshot to serve, or null when no config could be loaded (proxied requests get 503).</summary>
    public GatewaySnapshot? Current => _current;

    public void Swap(GatewaySnapshot snapshot) => _current = snapshot;
}
