using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using ServerlessGateway.Authentication;
using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Plugins;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Bench.Micro;

/// <summary>
/// The jwt plugin's access phase, as the pipeline calls it, for a token seen for the first time (parse,
/// credential lookup, signature check, claims, cache add) and for a repeated token (hash + cache
/// lookup). First-seen runs on an instance whose cache holds one entry, alternating two tokens, so
/// every call misses; the cost of that cache's add (and clear) is included, as it is in production.
/// </summary>
[MemoryDiagnoser]
public class JwtValidationBenchmarks
{
    private readonly GatewayRequestFeature _feature = new();
    private JwtPlugin _firstSeen = null!;
    private JwtPlugin _cached = null!;
    private GatewaySnapshot _snapshot = null!;
    private PluginRuntime _runtime = null!;
    private HttpContext _tokenA = null!;
    private HttpContext _tokenB = null!;
    private bool _flip;

    [Params("HS256", "RS256")]
    public string Algorithm { get; set; } = "HS256";

    [GlobalSetup]
    public void Setup()
    {
        using var rsa = RSA.Create(2048);
        var pem = rsa.ExportSubjectPublicKeyInfoPem().Replace("\n", "\\n", StringComparison.Ordinal);
        const string Secret = "a-32-byte-hmac-secret-for-bench!";
        var yaml = $$$"""
            _format_version: "3.0"
            services:
            - name: s
              url: http://127.0.0.1:1
              routes: [{name: r, paths: [/]}]
              plugins: [{name: jwt, config: {claims_to_verify: [exp]}}]
            consumers:
            - username: alice
              jwt_secrets:
              - {key: alice-hs, algorithm: HS256, secret: {{{Secret}}}}
              - {key: alice-rs, algorithm: RS256, rsa_public_key: "{{{pem}}}"}
            """;
        var parsed = KongDeclarativeParser.Parse(yaml);
        if (!parsed.IsValid)
        {
            throw new InvalidOperationException(string.Join("; ", parsed.Errors));
        }

        var config = parsed.Config!;
        _runtime = new PluginRuntime(
            TimeProvider.System,
            new CredentialProtector(null),
            NullLoggerFactory.Instance,
            new UpstreamClient(new UpstreamConnector(new DnsUpstreamResolver(), new UpstreamAddressPolicy(), NullLogger<UpstreamConnector>.Instance)),
            new ServiceCollection().BuildServiceProvider());
        _snapshot = GatewaySnapshot.Compile(config, "bench", _runtime);
        var plugin = config.Plugins.Single();
        var options = JwtPlugin.Definition.Read(new MapReader(ConfigNode.FromJsonNode(plugin.Config), "config", []), null);
        _cached = new JwtPlugin(plugin, options, _runtime);
        _firstSeen = new JwtPlugin(plugin, options, _runtime, cacheCapacity: 1);

        var exp = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() + 86_400;
        string Token(string jti)
        {
            var claims = new JsonObject { ["iss"] = Algorithm == "HS256" ? "alice-hs" : "alice-rs", ["sub"] = "user-7", ["jti"] = jti, ["exp"] = exp };
            var input = B64(new JsonObject { ["typ"] = "JWT", ["alg"] = Algorithm }.ToJsonString()) + "." + B64(claims.ToJsonString());
            var data = Encoding.ASCII.GetBytes(input);
            var signature = Algorithm == "HS256"
                ? HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), data)
                : rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return input + "." + Base64Url.EncodeToString(signature);
        }

        _tokenA = Request(Token("a"));
        _tokenB = Request(Token("b"));
        if (FirstSeen() != 0 || FirstSeen() != 0 || Cached() != 0)
        {
            throw new InvalidOperationException("the benchmark's tokens do not validate");
        }
    }

    [Benchmark]
    public int FirstSeen()
    {
        _flip = !_flip;
        return Run(_firstSeen, _flip ? _tokenA : _tokenB);
    }

    [Benchmark]
    public int Cached() => Run(_cached, _tokenA);

    /// <summary>The status the plugin decided (0: go on).</summary>
    private int Run(JwtPlugin plugin, HttpContext http)
    {
        _feature.Consumer = null;
        _feature.CredentialIdentifier = null;
        var result = plugin.AccessAsync(new GatewayContext(http, _feature, _snapshot, _runtime));
        return (result.IsCompletedSuccessfully ? result.Result : result.AsTask().GetAwaiter().GetResult()).Status;
    }

    private static HttpContext Request(string token)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "GET";
        http.Request.Path = "/x";
        http.Request.Headers.Authorization = "Bearer " + token;
        return http;
    }

    private static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}
