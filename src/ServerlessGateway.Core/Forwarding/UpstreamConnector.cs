using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// The <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host, asks the SSRF guard
/// about each address at connect time (so a name that re-resolves to a denied address is caught
/// however it resolved before), and connects to the first allowed one within the service's
/// connect timeout. No packet is ever sent to a denied address.
/// </summary>
internal sealed partial class UpstreamConnector(IUpstreamResolver resolver, UpstreamAddressPolicy policy, ILogger<UpstreamConnector> logger)
{
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var request = context.InitialRequestMessage;
        request.Options.TryGetValue(UpstreamTimeouts.WatchdogKey, out var watchdog);
        var connectTimeout = watchdog?.Timeouts.Connect ?? TimeSpan.FromSeconds(60);
        // The connect timeout governs until the connection stands.
        watchdog?.Disarm();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        var host = context.DnsEndPoint.Host;
        try
        {
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                ? [literal]
                : await resolver.ResolveAsync(host, timeout.Token);

            Exception? lastError = null;
            string? deniedReason = null;
            foreach (var address in addresses)
            {
                if (!policy.IsAllowed(address, out var reason))
                {
                    deniedReason = reason;
                    LogDenied(logger, host, reason);
                    continue;
                }

                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), timeout.Token);
                    var stream = new NetworkStream(socket, ownsSocket: true);
                    // The request is now being written: the write timeout governs.
                    if (watchdog is not null && request.Content is not null)
                    {
                        watchdog.Arm(watchdog.Timeouts.Write, "write");
                    }
                    else
                    {
                        watchdog?.Arm(watchdog.Timeouts.Read, "read");
                    }

                    return stream;
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    lastError = ex;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            if (lastError is not null)
            {
                throw lastError;
            }

            throw deniedReason is not null
                ? new UpstreamAddressDeniedException($"every address of upstream host '{host}' is denied by the upstream address policy ({deniedReason})")
                : new SocketException((int)SocketError.HostNotFound);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamTimeoutException($"connecting to upstream host '{host}' timed out after {connectTimeout.TotalMilliseconds} ms") { DuringConnect = true };
        }
    }

    [LoggerMessage(EventId = LogEvents.UpstreamAddressDenied, Level = LogLevel.Warning,
        Message = "Upstream host {Host} resolved to an address the upstream address policy denies ({Reason})")]
    private static partial void LogDenied(ILogger logger, string host, string reason);
}
