using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>
/// What a <see cref="ChaosProxy"/> does to a connection. <see cref="Drop"/> and <see cref="Blackhole"/> are
/// decided when a connection is accepted; latency and <see cref="ResetAfterBytes"/> apply to the
/// upstream-to-client direction of every open connection, so setting <see cref="ChaosProxy.Behaviour"/> changes
/// pooled connections too. A "response" here is what the upstream sends after the client last sent data.
/// </summary>
public sealed record ChaosBehaviour
{
    public static readonly ChaosBehaviour PassThrough = new();

    /// <summary>Accept, then close at once (FIN) without connecting upstream.</summary>
    public static readonly ChaosBehaviour Drop = new() { CloseOnAccept = true };

    /// <summary>Accept and read everything, never answer; on open connections, swallow what the upstream sends.</summary>
    public static readonly ChaosBehaviour Blackhole = new() { Silent = true };

    public bool CloseOnAccept { get; init; }

    public bool Silent { get; init; }

    /// <summary>Wait before the first byte of each response.</summary>
    public TimeSpan FirstByteDelay { get; init; }

    /// <summary>Wait before each later chunk of a response (one read of the proxy's small buffer).</summary>
    public TimeSpan ChunkDelay { get; init; }

    /// <summary>Forward this many bytes of a response, then reset both sides (RST: linger on, timeout 0).</summary>
    public long? ResetAfterBytes { get; init; }

    public static ChaosBehaviour Latency(TimeSpan firstByte, TimeSpan perChunk = default) => new() { FirstByteDelay = firstByte, ChunkDelay = perChunk };

    public static ChaosBehaviour ResetAfter(long bytes) => new() { ResetAfterBytes = bytes };
}

/// <summary>
/// A loopback TCP proxy in front of one port whose misbehaviour the test sets at runtime (<see cref="ChaosBehaviour"/>),
/// and which can stop listening (<see cref="RefuseAsync"/>: connections are refused) and listen again on the same port.
/// It counts its open connections; every wait is bounded by the connection's own end or by disposal.
/// </summary>
public sealed class ChaosProxy : IAsyncDisposable
{
    /// <summary>Small on purpose: a response of a few KiB crosses the proxy in several chunks, so mid-body chaos has a middle.</summary>
    private const int BufferSize = 4 * 1024;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly int _targetPort;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private readonly Lock _listening = new();
    private Func<long, ChaosBehaviour> _schedule = _ => ChaosBehaviour.PassThrough;
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _accepted;

    private ChaosProxy(int targetPort)
    {
        _targetPort = targetPort;
    }

    public int Port { get; private set; }

    /// <summary>Connections accepted since the start.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections not yet closed (client side and upstream side count as one).</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>Sets one behaviour for new connections and for every open one.</summary>
    public ChaosBehaviour Behaviour
    {
        set
        {
            _schedule = _ => value;
            foreach (var connection in _connections.Keys)
            {
                connection.Behaviour = value;
            }
        }
    }

    /// <summary>Chooses each new connection's behaviour from its number (0, 1, ...); open connections keep theirs.</summary>
    public Func<long, ChaosBehaviour> Schedule
    {
        set => _schedule = value;
    }

    public static ChaosProxy Start(int targetPort)
    {
        var proxy = new ChaosProxy(targetPort);
        proxy.Listen();
        return proxy;
    }

    /// <summary>Stops listening: new connections are refused; open ones carry on.</summary>
    public async Task RefuseAsync()
    {
        Task loop;
        lock (_listening)
        {
            _listener?.Stop();
            _listener = null;
            loop = _acceptLoop;
        }

        await loop.WaitAsync(TimeSpan.FromSeconds(5));
    }

    /// <summary>Listens (again, on the same port after <see cref="RefuseAsync"/>).</summary>
    public void Listen()
    {
        lock (_listening)
        {
            if (_listener is not null)
            {
                return;
            }

            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _listener = listener;
            _acceptLoop = AcceptLoopAsync(listener);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await RefuseAsync();
        await _stopping.CancelAsync();
        foreach (var connection in _connections.Keys)
        {
            connection.Close();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!_connections.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            var number = Interlocked.Increment(ref _accepted) - 1;
            var connection = new Connection(client, _schedule(number), _stopping.Token);
            _connections[connection] = 0;
            _ = RunAsync(connection);
        }
    }

    private async Task RunAsync(Connection connection)
    {
        try
        {
            await connection.RunAsync(_targetPort);
        }
        catch (Exception)
        {
            // Chaos: either side may vanish at any time. Nothing is left unobserved (other tests watch for that).
        }
        finally
        {
            connection.Close();
            connection.Dispose();
            _connections.TryRemove(connection, out _);
        }
    }

    private sealed class Connection(Socket client, ChaosBehaviour behaviour, CancellationToken stopping) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        private readonly Socket _client = client;
        private Socket? _upstream;
        private long _responseBytes;
        private int _closed;

        public ChaosBehaviour Behaviour { get; set; } = behaviour;

        public async Task RunAsync(int targetPort)
        {
            var token = _cancel.Token;
            if (Behaviour.CloseOnAccept)
            {
                return;
            }

            if (Behaviour.Silent)
            {
                await DrainAsync(token);
                return;
            }

            _upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(token))
            {
                connect.CancelAfter(ConnectTimeout);
                await _upstream.ConnectAsync(IPAddress.Loopback, targetPort, connect.Token);
            }

            var requests = PumpRequestsAsync(token);
            var responses = PumpResponsesAsync(token);
            // The first to fail ends both: a reset on one side is not left half open on the other.
            var first = await Task.WhenAny(requests, responses);
            if (first.IsFaulted || first.IsCanceled)
            {
                Close();
            }

            await Task.WhenAll(requests, responses);
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1)
            {
                return;
            }

            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Disposed by the connection's own end while the proxy was being disposed.
            }

            _client.Dispose();
            _upstream?.Dispose();
        }

        public void Dispose() => _cancel.Dispose();

        private async Task DrainAsync(CancellationToken token)
        {
            var buffer = new byte[BufferSize];
            while (await _client.ReceiveAsync(buffer, token) > 0)
            {
            }
        }

        /// <summary>Client to upstream, unchanged; each request starts a new response for the byte count and first-byte delay.</summary>
        private async Task PumpRequestsAsync(CancellationToken token)
        {
            var buffer = new byte[BufferSize];
            int read;
            while ((read = await _client.ReceiveAsync(buffer, token)) > 0)
            {
                Interlocked.Exchange(ref _responseBytes, 0);
                await _upstream!.SendAsync(buffer.AsMemory(0, read), token);
            }

            _upstream!.Shutdown(SocketShutdown.Send);
        }

        private async Task PumpResponsesAsync(CancellationToken token)
        {
            var buffer = new byte[BufferSize];
            int read;
            while ((read = await _upstream!.ReceiveAsync(buffer, token)) > 0)
            {
                var chaos = Behaviour;
                if (chaos.Silent)
                {
                    continue;
                }

                var sent = Interlocked.Read(ref _responseBytes);
                var delay = sent == 0 ? chaos.FirstByteDelay : chaos.ChunkDelay;
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, token);
                }

                var count = chaos.ResetAfterBytes is { } limit ? (int)Math.Clamp(limit - sent, 0, read) : read;
                if (count > 0)
                {
                    await _client.SendAsync(buffer.AsMemory(0, count), token);
                    Interlocked.Add(ref _responseBytes, count);
                }

                if (count < read)
                {
                    Reset();
                    return;
                }
            }

            _client.Shutdown(SocketShutdown.Send);
        }

        /// <summary>RST to both sides: a close with linger on and a zero timeout discards unsent data and resets.</summary>
        private void Reset()
        {
            foreach (var socket in new[] { _client, _upstream! })
            {
                try
                {
                    socket.LingerState = new LingerOption(true, 0);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }

            Close();
        }
    }
}
