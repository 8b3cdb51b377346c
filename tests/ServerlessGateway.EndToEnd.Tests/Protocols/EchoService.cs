using System.Collections.Concurrent;
using Grpc.Core;
using ServerlessGateway.EndToEnd.Tests.Grpc;

namespace ServerlessGateway.EndToEnd.Tests.Protocols;

/// <summary>The gRPC backend of the pass-through tests; records what each call saw.</summary>
public sealed class EchoService(EchoRecorder recorder) : Echo.EchoBase
{
    public override async Task<EchoReply> Unary(EchoRequest request, ServerCallContext context)
    {
        recorder.Seen.Enqueue(context.GetHttpContext().Request.Headers["grpc-timeout"].ToString());
        context.ResponseTrailers.Add("x-echo-trailer", "unary:" + request.Text);
        if (request.DelayMs > 0)
        {
            try
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                recorder.Cancelled.TrySetResult();
                throw;
            }
        }

        if (request.FailWith != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWith, request.Text));
        }

        return Reply(request, context, 0);
    }

    public override async Task Stream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        recorder.Seen.Enqueue(context.GetHttpContext().Request.Headers["grpc-timeout"].ToString());
        for (var i = 0; i < request.Count; i++)
        {
            if (request.DelayMs > 0)
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }

            await responseStream.WriteAsync(Reply(request, context, i));
        }

        context.ResponseTrailers.Add("x-echo-trailer", $"stream:{request.Count}");
        if (request.FailWith != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWith, request.Text));
        }
    }

    public override async Task<EchoReply> Collect(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        var texts = new List<string>();
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            texts.Add(request.Text);
        }

        return new EchoReply { Text = string.Join(',', texts), Index = texts.Count, Protocol = context.GetHttpContext().Request.Protocol };
    }

    private static EchoReply Reply(EchoRequest request, ServerCallContext context, int index) => new()
    {
        Text = request.Text,
        Index = index,
        Protocol = context.GetHttpContext().Request.Protocol,
        GrpcTimeout = context.GetHttpContext().Request.Headers["grpc-timeout"].ToString(),
    };
}

/// <summary>What the echo backend observed: grpc-timeout headers per call, and whether a call was cancelled.</summary>
public sealed class EchoRecorder
{
    public ConcurrentQueue<string> Seen { get; } = new();

    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
