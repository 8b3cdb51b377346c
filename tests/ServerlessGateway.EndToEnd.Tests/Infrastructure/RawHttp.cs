using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// Sends exact bytes over a socket: HttpClient normalizes dot segments and hop-by-hop headers
/// itself, which would hide what the gateway does with them. Reads one response (by
/// Content-Length, chunked framing, or until the server closes).
/// </summary>
public static class RawHttp
{
    public static async Task<RawResponse> SendAsync(Uri gateway, string request, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(IPAddress.Loopback, gateway.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal)), timeout.Token);

        var received = new StringBuilder();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var text = received.ToString();
            if (TryParse(text, out var response))
            {
                return response;
            }

            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                return TryParse(text, out response, closed: true) ? response : throw new IOException($"connection closed mid-response: {text}");
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }
    }

    /// <summary>A GET with the given extra header lines.</summary>
    public static Task<RawResponse> GetAsync(Uri gateway, string target, params string[] headers) =>
        SendAsync(gateway, $"GET {target} HTTP/1.1\nHost: gw.test\n{string.Concat(headers.Select(h => h + "\n"))}\n");

    private static bool TryParse(string text, out RawResponse response, bool closed = false)
    {
        response = null!;
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headEnd < 0)
        {
            return false;
        }

        var head = text[..headEnd].Split("\r\n");
        var status = int.Parse(head[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }

        var body = text[(headEnd + 4)..];
        if (headers.TryGetValue("Content-Length", out var lengthText))
        {
            var length = int.Parse(lengthText, CultureInfo.InvariantCulture);
            if (body.Length < length)
            {
                return false;
            }

            response = new RawResponse(status, headers, body[..length]);
            return true;
        }

        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new StringBuilder();
            var position = 0;
            while (true)
            {
                var lineEnd = body.IndexOf("\r\n", position, StringComparison.Ordinal);
                if (lineEnd < 0)
                {
                    return false;
                }

                var size = int.Parse(body[position..lineEnd].Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    response = new RawResponse(status, headers, decoded.ToString());
                    return true;
                }

                if (body.Length < lineEnd + 2 + size + 2)
                {
                    return false;
                }

                decoded.Append(body, lineEnd + 2, size);
                position = lineEnd + 2 + size + 2;
            }
        }

        if (!closed && status is not (204 or 304))
        {
            return false;
        }

        response = new RawResponse(status, headers, body);
        return true;
    }
}
