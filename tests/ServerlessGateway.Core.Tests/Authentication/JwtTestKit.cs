using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Authentication;
using ServerlessGateway.Configuration;
using ServerlessGateway.Forwarding;
using ServerlessGateway.Plugins;
using ServerlessGateway.Registry;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>Signs test tokens with System.Security.Cryptography, as an identity provider would.</summary>
internal static class Jws
{
    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public static string B64(string text) => B64(Encoding.UTF8.GetBytes(text));

    public static string Sign(JsonObject payload, string alg, Func<byte[], byte[]> signer, JsonObject? header = null)
    {
        header ??= new JsonObject { ["typ"] = "JWT", ["alg"] = alg };
        var signingInput = B64(header.ToJsonString()) + "." + B64(payload.ToJsonString());
        return signingInput + "." + B64(signer(Encoding.ASCII.GetBytes(signingInput)));
    }

    public static string Hmac(JsonObject payload, byte[] key, string alg = "HS256", JsonObject? header = null) =>
        Sign(payload, alg, data => alg switch
        {
            "HS256" => HMACSHA256.HashData(key, data),
            "HS384" => HMACSHA384.HashData(key, data),
            "HS512" => HMACSHA512.HashData(key, data),
            _ => throw new ArgumentException(alg),
        }, header);

    public static string Hmac(JsonObject payload, string secret, string alg = "HS256", JsonObject? header = null) =>
        Hmac(payload, Encoding.UTF8.GetBytes(secret), alg, header);

    public static string Rsa(JsonObject payload, RSA key, string alg = "RS256", JsonObject? header = null) =>
        Sign(payload, alg, data => key.SignData(data, Hash(alg), alg.StartsWith("PS", StringComparison.Ordinal) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1), header);

    public static string Ecdsa(JsonObject payload, ECDsa key, string alg = "ES256", JsonObject? header = null) =>
        Sign(payload, alg, data => key.SignData(data, Hash(alg), DSASignatureFormat.IeeeP1363FixedFieldConcatenation), header);

    public static HashAlgorithmName Hash(string alg) => alg[2..] switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    /// <summary>Replaces one segment (0 header, 1 payload, 2 signature) of a token.</summary>
    public static string WithSegment(string token, int index, string value)
    {
        var parts = token.Split('.');
        parts[index] = value;
        return string.Join('.', parts);
    }
}

/// <summary>Test keys, made once per test run (RSA generation is slow).</summary>
internal static class TestKeys
{
    public static readonly RSA Rsa = RSA.Create(2048);
    public static readonly RSA OtherRsa = RSA.Create(2048);
    public static readonly ECDsa P256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public static readonly ECDsa P384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    public static readonly ECDsa P521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);

    public static string RsaPem => Rsa.ExportSubjectPublicKeyInfoPem();

    public static ECDsa Ec(string alg) => alg switch
    {
        "ES256" => P256,
        "ES384" => P384,
        _ => P521,
    };
}

/// <summary>
/// One jwt plugin instance over a parsed config, driven through <see cref="JwtPlugin.AccessAsync"/>
/// with a <see cref="DefaultHttpContext"/>: no sockets, time from a <see cref="FakeTimeProvider"/>.
/// </summary>
internal sealed class JwtHarness
{
    public static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public JwtHarness(string pluginConfig, string consumers, CredentialProtector? protector = null, FakeTimeProvider? time = null)
    {
        Time = time ?? new FakeTimeProvider(Start);
        var yaml = $$"""
            _format_version: "3.0"
            services:
            - name: s
              url: http://127.0.0.1:1
              routes:
              - name: r
                paths: [/]
              plugins:
              - name: jwt
                config: {{pluginConfig}}
            consumers:
            {{consumers}}
            """;
        var parsed = KongDeclarativeParser.Parse(yaml);
        Assert.True(parsed.IsValid, string.Join("\n", parsed.Errors));
        var config = parsed.Config!;
        if (protector is not null)
        {
            var errors = new List<ConfigIssue>();
            config = protector.Protect(config, errors);
            Assert.Empty(errors);
        }

        Config = config;
        Runtime = NewRuntime(Time, protector ?? new CredentialProtector(null));
        Snapshot = GatewaySnapshot.Compile(config, "v1", Runtime);
        Plugin = (JwtPlugin)new JwtPlugin.Definition().Create(config.Plugins.Single(p => p.Name == "jwt"), Runtime);
    }

    public FakeTimeProvider Time { get; }

    public GatewayConfig Config { get; }

    public PluginRuntime Runtime { get; }

    public GatewaySnapshot Snapshot { get; set; }

    public JwtPlugin Plugin { get; }

    public static PluginRuntime NewRuntime(TimeProvider time, CredentialProtector protector, IServiceProvider? services = null) => new(
        time,
        protector,
        NullLoggerFactory.Instance,
        new UpstreamClient(new UpstreamConnector(new DnsUpstreamResolver(), new UpstreamAddressPolicy(), NullLogger<UpstreamConnector>.Instance)),
        services ?? new ServiceCollection().BuildServiceProvider());

    public static string Consumer(string username, string key, string algorithm = "HS256", string? secret = null, string? publicKey = null)
    {
        var credential = new JsonObject { ["key"] = key, ["algorithm"] = algorithm };
        if (secret is not null)
        {
            credential["secret"] = secret;
        }

        if (publicKey is not null)
        {
            credential["rsa_public_key"] = publicKey;
        }

        return $"- username: {username}\n  jwt_secrets: [{credential.ToJsonString()}]\n";
    }

    public async Task<Outcome> SendAsync(Action<HttpRequest> setup, GatewayRequestFeature? feature = null)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "GET";
        http.Request.Path = "/x";
        setup(http.Request);
        feature ??= new GatewayRequestFeature();
        var result = await Plugin.AccessAsync(new GatewayContext(http, feature, Snapshot, Runtime));
        return new Outcome(result, feature);
    }

    public Task<Outcome> BearerAsync(string token) => SendAsync(r => r.Headers.Authorization = "Bearer " + token);

    public sealed record Outcome(PluginResult Result, GatewayRequestFeature Feature)
    {
        public bool Passed => !Result.Rejected;

        /// <summary>Asserts a 401 whose detail contains <paramref name="detail"/> and that no consumer was set.</summary>
        public void AssertRejected(string detail, string challenge = "Bearer error=\"invalid_token\"")
        {
            Assert.True(Result.Rejected, "expected a rejection");
            Assert.Equal(401, Result.Status);
            Assert.Contains(detail, Result.Detail, StringComparison.Ordinal);
            Assert.Equal(challenge, Result.WwwAuthenticate);
            Assert.Null(Feature.Consumer);
            Assert.Null(Feature.CredentialIdentifier);
            Assert.Null(Feature.Claims);
        }
    }
}
