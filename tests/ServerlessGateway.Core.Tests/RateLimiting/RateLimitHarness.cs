using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Configuration;
using ServerlessGateway.Observability;
using ServerlessGateway.Plugins;
using ServerlessGateway.RateLimiting;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Tests.RateLimiting;

/// <summary>
/// A rate-limiting plugin over a parsed config, driven through <see cref="GatewayPlugin.AccessAsync"/> with a
/// <see cref="DefaultHttpContext"/>; counters, store and clock are the test's, and decisions are counted
/// from the gateway meter.
/// </summary>
internal sealed class RateLimitHarness : IDisposable
{
    public static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly MeterListener _listener = new();
    private readonly PluginRuntime _runtime;
    private readonly GatewaySnapshot _snapshot;

    public RateLimitHarness(string pluginConfig, IRateLimitStore? store = null, FakeTimeProvider? time = null, RateLimitCounters? counters = null)
    {
        Time = time ?? new FakeTimeProvider(Start);
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddSingleton<GatewayMetrics>();
        var provider = services.BuildServiceProvider();
        Counters = counters ?? new RateLimitCounters(
            "instance-a",
            store,
            Time,
            provider.GetRequiredService<GatewayMetrics>(),
            NullLoggerFactory.Instance,
            new RateLimitStoreTimeouts(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(500)));
        _runtime = Authentication.JwtHarness.NewRuntime(Time, new CredentialProtector(null), new ServiceCollection().AddSingleton(Counters).BuildServiceProvider());

        var parsed = KongDeclarativeParser.Parse($$"""
            _format_version: "3.0"
            services:
            - name: s
              url: http://127.0.0.1:1
              routes:
              - name: r
                paths: [/]
              plugins:
              - name: rate-limiting
                config: {{pluginConfig}}
            consumers:
            - username: alice
            - username: bob
            """);
        Assert.True(parsed.IsValid, string.Join("\n", parsed.Errors));
        Config = parsed.Config!;
        _snapshot = GatewaySnapshot.Compile(Config, "v1", _runtime);
        Plugin = Create();

        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == Counters.Metrics.Meter && instrument.Name == "gateway.rate_limit.decisions")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? policy = null, outcome = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "policy")
                {
                    policy = (string?)tag.Value;
                }
                else if (tag.Key == "outcome")
                {
                    outcome = (string?)tag.Value;
                }
            }

            lock (Decisions)
            {
                Decisions.Add($"{policy}/{outcome}");
            }
        });
        _listener.Start();
    }

    public FakeTimeProvider Time { get; }

    public RateLimitCounters Counters { get; }

    public GatewayConfig Config { get; }

    public GatewayPlugin Plugin { get; private set; }

    /// <summary>Every recorded decision as <c>policy/outcome</c>.</summary>
    public List<string> Decisions { get; } = [];

    /// <summary>A new plugin instance from the config (changed by <paramref name="change"/>), as a snapshot reload makes.</summary>
    public GatewayPlugin Create(Func<PluginConfig, PluginConfig>? change = null)
    {
        var plugin = Config.Plugins.Single(p => p.Name == "rate-limiting");
        return new RateLimitingPlugin.Definition().Create(change is null ? plugin : change(plugin), _runtime);
    }

    public void Reload(Func<PluginConfig, PluginConfig>? change = null) => Plugin = Create(change);

    public async Task<Response> SendAsync(string ip = "203.0.113.7", string? consumer = null, string? credential = null, Action<HttpContext>? setup = null)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "GET";
        http.Request.Path = "/x";
        var feature = new GatewayRequestFeature
        {
            ClientAddress = IPAddress.Parse(ip),
            Path = "/x",
            Consumer = consumer is null ? null : Config.Consumers.Single(c => c.Username == consumer),
            CredentialIdentifier = credential,
        };
        setup?.Invoke(http);
        var result = await Plugin.AccessAsync(new GatewayContext(http, feature, _snapshot, _runtime));
        return new Response(result, http.Response.Headers);
    }

    /// <summary>Sends <paramref name="count"/> requests from one client; returns how many were admitted.</summary>
    public async Task<int> CountAdmittedAsync(int count)
    {
        var admitted = 0;
        for (var i = 0; i < count; i++)
        {
            admitted += (await SendAsync()).Admitted ? 1 : 0;
        }

        return admitted;
    }

    public void Dispose() => _listener.Dispose();

    public sealed record Response(PluginResult Result, IHeaderDictionary Headers)
    {
        public bool Admitted => !Result.Rejected && !Result.Answered;

        public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value.ToString() : null;
    }
}
