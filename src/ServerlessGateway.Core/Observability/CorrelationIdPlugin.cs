using System.Globalization;
using Microsoft.AspNetCore.Http;
using ServerlessGateway.Configuration;
using ServerlessGateway.Plugins;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Observability;

/// <summary>
/// Kong's <c>correlation-id</c> (https://docs.konghq.com/hub/kong-inc/correlation-id/): the request
/// carries an id in <c>header_name</c> to the backend (kept when the client sent a valid one, else
/// generated), optionally echoed on the response; the id is also written into problem+json.
/// Kong keeps any incoming value; here an id must be 1..<see cref="MaxLength"/> visible ASCII
/// characters, so a client cannot smuggle odd bytes or huge values into logs.
/// </summary>
internal sealed class CorrelationIdPlugin(PluginConfig config, CorrelationIdPlugin.Options options, TimeProvider time) : GatewayPlugin(config)
{
    internal const int MaxLength = 200;

    // Kong's uuid#counter: one uuid per worker and an increasing counter.
    private static readonly string WorkerId = Guid.NewGuid().ToString();
    private static long s_counter;

    internal enum Generator
    {
        Uuid,
        UuidCounter,
        Tracker,
    }

    internal sealed record Options(string HeaderName, Generator Generator, bool EchoDownstream);

    internal sealed class Definition : PluginDefinition
    {
        public override string Name => "correlation-id";

        public override void Validate(MapReader config, PluginValidationContext context) => Read(config);

        public override GatewayPlugin Create(PluginConfig plugin, PluginRuntime runtime) =>
            new CorrelationIdPlugin(plugin, Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", [])), runtime.Time);

        internal static Options Read(MapReader config)
        {
            var header = config.String("header_name") ?? "Kong-Request-ID";
            if (header.Length == 0 || !IsToken(header))
            {
                config.Error("header_name", $"'{header}' is not a valid header name");
            }

            var generator = config.String("generator") switch
            {
                null or "uuid" => Generator.Uuid,
                "uuid#counter" => Generator.UuidCounter,
                "tracker" => Generator.Tracker,
                var other => Invalid(config, other),
            };

            var options = new Options(header, generator, config.Bool("echo_downstream", false));
            config.Finish();
            return options;
        }

        private static Generator Invalid(MapReader config, string value)
        {
            config.Error("generator", $"'{value}' is not one of: uuid, uuid#counter, tracker");
            return Generator.Uuid;
        }
    }

    public override ValueTask<PluginResult> AccessAsync(GatewayContext context)
    {
        var http = context.Http;
        var incoming = http.Request.Headers[options.HeaderName];
        var id = incoming.Count == 1 && IsValid(incoming[0]) ? incoming[0]! : Generate(http);
        context.Request.CorrelationId = id;
        // The request's server span (when tracing listens) carries the id, as the access log and problem+json do.
        System.Diagnostics.Activity.Current?.SetTag("gateway.correlation_id", id);
        context.Request.AddUpstreamHeader(options.HeaderName, id);
        if (options.EchoDownstream)
        {
            http.Response.OnStarting(static state =>
            {
                var (response, name, value) = ((HttpResponse, string, string))state;
                response.Headers[name] = value;
                return Task.CompletedTask;
            }, (http.Response, options.HeaderName, id));
        }

        return ValueTask.FromResult(PluginResult.Continue);
    }

    /// <summary>An RFC 9110 §5.6.2 token: what a header name may be.</summary>
    internal static bool IsToken(string name)
    {
        foreach (var c in name)
        {
            if (c is <= ' ' or >= '\x7f' || "\"(),/:;<=>?@[\\]{}".Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private string Generate(HttpContext http) => options.Generator switch
    {
        Generator.UuidCounter => string.Concat(WorkerId, "#", Interlocked.Increment(ref s_counter).ToString(CultureInfo.InvariantCulture)),
        // Kong's tracker: server address, port, process, connection, request count and time in seconds with milliseconds.
        Generator.Tracker => string.Join('-',
            http.Connection.LocalIpAddress?.ToString() ?? "0.0.0.0",
            http.Connection.LocalPort.ToString(CultureInfo.InvariantCulture),
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            http.Connection.Id,
            Interlocked.Increment(ref s_counter).ToString(CultureInfo.InvariantCulture),
            time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)),
        _ => Guid.NewGuid().ToString(),
    };
}
