using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using ServerlessGateway.EndToEnd.Tests.Infrastructure;

namespace ServerlessGateway.EndToEnd.Tests.Protocols;

/// <summary>
/// WebSockets through the Standalone host to a real Kestrel WebSocket backend: the upgrade, frames
/// both ways, and close codes from either side.
/// </summary>
public sealed class WebSocketPassThroughTests
{
    [Fact(Timeout = 30_000)]
    public async Task Upgrade_then_frames_both_ways_then_the_client_close_code_reaches_the_backend()
    {
        // Arrange
        var backendSaw = new TaskCompletionSource<(WebSocketCloseStatus?, string?, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await StartBackendAsync(async (socket, context) =>
        {
            // The backend speaks first, then echoes until the client closes.
            await SendAsync(socket, "hello from backend");
            var buffer = new byte[4096];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    backendSaw.TrySetResult((result.CloseStatus, result.CloseStatusDescription, context.Request.Headers["X-Forwarded-For"].ToString()));
                    await socket.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, context.RequestAborted);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, context.RequestAborted);
            }
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));
        using var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // Act
        await client.ConnectAsync(WebSocketUri(gateway), timeout.Token);
        var greeting = await ReceiveTextAsync(client, timeout.Token);
        await SendAsync(client, "ping 1");
        var echo1 = await ReceiveTextAsync(client, timeout.Token);
        await client.SendAsync(new byte[] { 0, 1, 2, 255 }, WebSocketMessageType.Binary, true, timeout.Token);
        var binary = new byte[16];
        var binaryResult = await client.ReceiveAsync(binary, timeout.Token);
        await client.CloseAsync((WebSocketCloseStatus)4001, "client done", timeout.Token);

        // Assert
        Assert.Equal(System.Net.HttpStatusCode.SwitchingProtocols, client.HttpStatusCode);
        Assert.Equal("hello from backend", greeting);
        Assert.Equal("ping 1", echo1);
        Assert.Equal(WebSocketMessageType.Binary, binaryResult.MessageType);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, binary[..binaryResult.Count]);
        var (status, description, forwardedFor) = await backendSaw.Task.WaitAsync(timeout.Token);
        Assert.Equal((WebSocketCloseStatus)4001, status);
        Assert.Equal("client done", description);
        Assert.Equal("127.0.0.1", forwardedFor);
        Assert.Equal((WebSocketCloseStatus)4001, client.CloseStatus);
    }

    [Fact(Timeout = 30_000)]
    public async Task Backend_close_code_and_reason_reach_the_client()
    {
        await using var backend = await StartBackendAsync(async (socket, context) =>
        {
            var buffer = new byte[256];
            await socket.ReceiveAsync(buffer, context.RequestAborted);
            await socket.CloseAsync(WebSocketCloseStatus.PolicyViolation, "quota exceeded", context.RequestAborted);
        });
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));
        using var client = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await client.ConnectAsync(WebSocketUri(gateway), timeout.Token);
        await SendAsync(client, "one message");
        var result = await client.ReceiveAsync(new byte[256], timeout.Token);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, client.CloseStatus);
        Assert.Equal("quota exceeded", client.CloseStatusDescription);
    }

    [Fact(Timeout = 30_000)]
    public async Task Plain_request_to_a_websocket_route_is_not_upgraded()
    {
        await using var backend = await StartBackendAsync((_, _) => Task.CompletedTask);
        await using var gateway = await TestGateway.StartAsync(Config(backend.Url));

        using var response = await gateway.Client.GetAsync("/ws");

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("not a websocket request", await response.Content.ReadAsStringAsync());
    }

    private static Task<LoopbackServer> StartBackendAsync(Func<WebSocket, HttpContext, Task> session) =>
        LoopbackServer.StartAsync(null, app =>
        {
            app.UseWebSockets();
            app.Run(async context =>
            {
                if (!context.WebSockets.IsWebSocketRequest)
                {
                    context.Response.StatusCode = StatusCodes.Status400BadRequest;
                    await context.Response.WriteAsync("not a websocket request");
                    return;
                }

                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                await session(socket, context);
            });
        });

    private static Uri WebSocketUri(TestGateway gateway) =>
        new UriBuilder(gateway.BaseAddress) { Scheme = "ws", Path = "/ws" }.Uri;

    private static Task SendAsync(WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<string> ReceiveTextAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, cancellationToken);
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        Assert.True(result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    private static string Config(string url) => $"""
        _format_version: "3.0"
        services:
          - name: chat
            url: {url}
            routes:
              - name: chat
                paths: [/ws]
                strip_path: false
        """;
}
