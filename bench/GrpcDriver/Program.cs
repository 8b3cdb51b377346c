// The transcoding benchmark's gRPC side (bench/README.md, "Transcoding (grpc-gateway)"):
//   serve PORT                       the upstream: Things.GetThing over h2c on 127.0.0.1:PORT
//   load URL [CONCURRENCY] [SECONDS]  closed-loop unary calls straight to URL, one BENCH line like run.sh's wrk hook
//   ping URL                         one GetThing call; exit code 0 when it answers OK (readiness probe)
//   descriptor                       the base64 FileDescriptorSet grpc-gateway's descriptor_set takes
//   config PORT                      a DB-less gateway config: grpc-gateway in front of 127.0.0.1:PORT
using System.Globalization;
using ServerlessGateway.Bench.GrpcDriver;

return args switch
{
    ["serve", var port] => await BenchServer.RunAsync(ParsePort(port)),
    ["load", var url, .. var rest] => await LoadGenerator.RunAsync(
        new Uri(url),
        concurrency: rest.Length > 0 ? int.Parse(rest[0], CultureInfo.InvariantCulture) : 64,
        duration: TimeSpan.FromSeconds(rest.Length > 1 ? double.Parse(rest[1], CultureInfo.InvariantCulture) : 10)),
    ["ping", var url] => await LoadGenerator.PingAsync(new Uri(url)),
    ["descriptor"] => Print(DescriptorSet.Base64()),
    ["config", var port] => Print(DescriptorSet.GatewayConfig(ParsePort(port))),
    _ => Usage(),
};

static int ParsePort(string text) =>
    int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
        ? port
        : throw new ArgumentException($"not a port: {text}");

static int Print(string text)
{
    Console.Out.WriteLine(text);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: GrpcDriver serve PORT | load URL [CONCURRENCY=64] [SECONDS=10] | ping URL | descriptor | config PORT");
    return 2;
}
