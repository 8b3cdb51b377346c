using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Authentication.Jwks;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Tests.Authentication;

public sealed class OidcKeyCacheTests : IDisposable
{
    private static readonly TimeSpan Throttle = OidcKeyCache.DefaultMinRefreshInterval;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly FakeIdentityProvider _idp = new();
    // Generated once: key generation dominates these tests otherwise.
    private static readonly TestSigningKey Key1 = TestSigningKey.Rsa("key-1");
    private static readonly TestSigningKey Key2 = TestSigningKey.Ec("key-2");
    private static readonly TestSigningKey Key3 = TestSigningKey.Rsa("key-3");
    private readonly OidcKeySource _source = OidcKeySource.ForIssuer(FakeIdentityProvider.Issuer, out _)!;
    private readonly OidcKeyCache _cache;

    public OidcKeyCacheTests()
    {
        _idp.Jwks = TestSigningKey.Jwks(Key1);
        _cache = new OidcKeyCache(_idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
    }

    public void Dispose()
    {
        _cache.Dispose();
        _idp.Dispose();
    }

    private ValueTask<KeyLookup> Find(string? kid, string alg = "RS256") => _cache.FindAsync(_source, kid, alg, Throttle, CancellationToken.None);

    [Fact(Timeout = 10_000)]
    public async Task First_lookup_discovers_the_jwks_uri_and_remembers_the_issuer_it_states()
    {
        var lookup = await Find("key-1");

        Assert.Equal(KeyLookupStatus.Found, lookup.Status);
        Assert.Equal("key-1", Assert.Single(lookup.Candidates).Kid);
        Assert.Equal(FakeIdentityProvider.Issuer, lookup.Set!.Issuer);
        Assert.Equal((1, 1), (_idp.DiscoveryHits, _idp.JwksHits));

        // Known keys are served from memory.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(KeyLookupStatus.Found, (await Find("key-1")).Status);
        }

        Assert.Equal((1, 1), (_idp.DiscoveryHits, _idp.JwksHits));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_key_is_offered_only_for_algorithms_of_its_type_and_curve()
    {
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key2);

        Assert.Equal(KeyLookupStatus.Found, (await Find("key-2", "ES256")).Status);
        Assert.Equal(KeyLookupStatus.Found, (await Find("key-1", "PS384")).Status);
        // An RSA key never verifies ES256, an EC P-256 key never ES384: both count as unknown.
        Assert.Equal(KeyLookupStatus.UnknownKey, (await Find("key-1", "ES256")).Status);
        Assert.Equal(KeyLookupStatus.UnknownKey, (await Find("key-2", "ES384")).Status);
        // Without a kid every key of the right type is a candidate.
        Assert.Equal("key-2", Assert.Single((await Find(null, "ES256")).Candidates).Kid);
    }

    [Fact(Timeout = 10_000)]
    public async Task Keys_are_refreshed_in_the_background_every_hour()
    {
        await Find("key-1");
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key2);

        _time.Advance(TimeSpan.FromMinutes(59));
        await _cache.WhenIdleAsync(_source);
        Assert.Equal((1, 1), (_idp.DiscoveryHits, _idp.JwksHits));
        Assert.Empty(_cache.Current(_source)!.Keys.WithKid("key-2"));

        _time.Advance(TimeSpan.FromMinutes(1));
        await _cache.WhenIdleAsync(_source);

        Assert.Equal((2, 2), (_idp.DiscoveryHits, _idp.JwksHits));
        Assert.Single(_cache.Current(_source)!.Keys.WithKid("key-2"));
        // The rotated-in key is known without a request-triggered fetch.
        Assert.Equal(KeyLookupStatus.Found, (await Find("key-2", "ES256")).Status);
        Assert.Equal(2, _idp.JwksHits);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_flood_of_unknown_kids_makes_one_fetch_then_none_until_the_throttle_interval_passed()
    {
        await Find("key-1");
        _time.Advance(Throttle);
        _idp.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var flood = Enumerable.Range(0, 50).Select(i => Find($"made-up-{i}").AsTask()).ToArray();
        _idp.Hold.SetResult();
        var results = await Task.WhenAll(flood);

        Assert.All(results, r => Assert.Equal(KeyLookupStatus.UnknownKey, r.Status));
        Assert.Equal((2, 2), (_idp.DiscoveryHits, _idp.JwksHits));

        // Within the throttle interval: no fetch at all, the answer comes from memory.
        _time.Advance(Throttle - TimeSpan.FromSeconds(1));
        Assert.Equal(KeyLookupStatus.UnknownKey, (await Find("made-up-again")).Status);
        Assert.Equal(2, _idp.JwksHits);

        // Once it passed, an unknown kid may fetch again, once; a key rotated in meanwhile is then found.
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key3);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(KeyLookupStatus.Found, (await Find("key-3")).Status);
        Assert.Equal(KeyLookupStatus.UnknownKey, (await Find("made-up-after")).Status);
        Assert.Equal(3, _idp.JwksHits);
    }

    [Fact(Timeout = 10_000)]
    public async Task Concurrent_requests_for_a_rotated_in_key_share_one_fetch_and_all_find_it()
    {
        await Find("key-1");
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key3);
        _time.Advance(Throttle);
        _idp.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var concurrent = Enumerable.Range(0, 20).Select(_ => Find("key-3").AsTask()).ToArray();
        Assert.DoesNotContain(concurrent, t => t.IsCompleted);
        _idp.Hold.SetResult();
        var results = await Task.WhenAll(concurrent);

        // Single flight: every caller waited for the one fetch instead of being turned away by the throttle.
        Assert.All(results, r => Assert.Equal(KeyLookupStatus.Found, r.Status));
        Assert.Equal(2, _idp.JwksHits);
    }

    [Fact(Timeout = 10_000)]
    public async Task An_idp_outage_keeps_the_last_good_keys_and_recovers()
    {
        await Find("key-1");
        _idp.Down = true;

        _time.Advance(TimeSpan.FromHours(1));
        await _cache.WhenIdleAsync(_source);
        Assert.Equal(2, _idp.DiscoveryHits);

        Assert.Equal(KeyLookupStatus.Found, (await Find("key-1")).Status);
        // An unknown kid is unknown (401), not "keys unavailable": the cached set stays authoritative.
        _time.Advance(Throttle);
        Assert.Equal(KeyLookupStatus.UnknownKey, (await Find("made-up")).Status);

        // A failed refresh is retried after a minute rather than an hour.
        _idp.Down = false;
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key2);
        _time.Advance(TimeSpan.FromMinutes(1));
        await _cache.WhenIdleAsync(_source);
        Assert.Single(_cache.Current(_source)!.Keys.WithKid("key-2"));
    }

    [Fact(Timeout = 10_000)]
    public async Task Without_any_keys_yet_an_outage_means_unavailable_and_is_not_retried_per_request()
    {
        _idp.Down = true;

        Assert.Equal(KeyLookupStatus.Unavailable, (await Find("key-1")).Status);
        Assert.Equal(KeyLookupStatus.Unavailable, (await Find("key-1")).Status);
        Assert.Equal(1, _idp.DiscoveryHits);

        _idp.Down = false;
        _time.Advance(Throttle);
        Assert.Equal(KeyLookupStatus.Found, (await Find("key-1")).Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_fetch_that_never_answers_is_abandoned_after_the_fetch_timeout()
    {
        _idp.Hold = new TaskCompletionSource();

        var pending = Find("key-1").AsTask();
        Assert.False(pending.IsCompleted);
        _time.Advance(new OidcKeyCacheOptions().FetchTimeout);

        Assert.Equal(KeyLookupStatus.Unavailable, (await pending).Status);
    }

    [Theory(Timeout = 10_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_key_set_larger_than_the_limit_is_refused_with_or_without_content_length(bool chunked)
    {
        using var cache = new OidcKeyCache(_idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance, new OidcKeyCacheOptions { MaxDocumentBytes = 512 });
        _idp.Chunked = chunked;
        _idp.Jwks = TestSigningKey.Jwks(Key1, Key1, Key1);

        var lookup = await cache.FindAsync(_source, "key-1", "RS256", Throttle, CancellationToken.None);

        Assert.Equal(KeyLookupStatus.Unavailable, lookup.Status);
        Assert.Equal(1, _idp.JwksHits);
    }

    [Fact]
    public void A_key_set_holding_a_string_that_is_not_text_is_not_valid_json()
    {
        // Found by JwtTokenProperties: an escaped lone surrogate parsed, then threw InvalidOperationException when read.
        var jwks = TestSigningKey.Jwks(Key1).Replace("\"kty\":\"", "\"kty\":\"\\ud800", StringComparison.Ordinal);

        Assert.Null(JwksDocument.Parse(System.Text.Encoding.UTF8.GetBytes(jwks), out var error));
        Assert.Equal("the JWK set is not valid JSON", error);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("http://idp.test/keys")]
    [InlineData("file:///etc/passwd")]
    [InlineData("keys")]
    public async Task A_discovered_jwks_uri_must_obey_the_url_rule(string jwksUri)
    {
        _idp.DiscoveredJwksUri = jwksUri;

        Assert.Equal(KeyLookupStatus.Unavailable, (await Find("key-1")).Status);
        Assert.Equal(0, _idp.JwksHits);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_direct_jwks_uri_needs_no_discovery_and_states_no_issuer()
    {
        var source = OidcKeySource.ForJwksUri(FakeIdentityProvider.JwksUrl, out _)!;

        var lookup = await _cache.FindAsync(source, "key-1", "RS256", Throttle, CancellationToken.None);

        Assert.Equal(KeyLookupStatus.Found, lookup.Status);
        Assert.Null(lookup.Set!.Issuer);
        Assert.Equal((0, 1), (_idp.DiscoveryHits, _idp.JwksHits));
    }

    [Fact(Timeout = 10_000)]
    public async Task Unusable_keys_are_skipped_one_by_one_and_a_set_without_usable_keys_is_refused()
    {
        using var small = TestSigningKey.Rsa("small", bits: 1024);
        var oct = """{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}""";
        var enc = Key2.Jwk();
        enc["use"] = "enc";
        _idp.Jwks = $$"""{"keys":[{{oct}},{{small.Jwk().ToJsonString()}},{{enc.ToJsonString()}},{"kty":"RSA","kid":"broken","n":"!!","e":"AQAB"},{{Key1.Jwk().ToJsonString()}}]}""";

        var lookup = await Find("key-1");

        Assert.Equal(KeyLookupStatus.Found, lookup.Status);
        Assert.Equal(4, lookup.Set!.Keys.Skipped);
        Assert.Equal("key-1", Assert.Single(lookup.Set.Keys.Keys).Kid);

        using var cache = new OidcKeyCache(_idp.Invoker(), _time, NullLogger<OidcKeyCache>.Instance);
        _idp.Jwks = $$"""{"keys":[{{oct}}]}""";
        Assert.Equal(KeyLookupStatus.Unavailable, (await cache.FindAsync(_source, "hmac", "RS256", Throttle, CancellationToken.None)).Status);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_source_nobody_uses_for_a_day_is_no_longer_refreshed()
    {
        await Find("key-1");

        _time.Advance(TimeSpan.FromHours(24));
        await _cache.WhenIdleAsync(_source);
        var fetchesAfterADay = _idp.JwksHits;
        _time.Advance(TimeSpan.FromHours(5));
        await _cache.WhenIdleAsync(_source);

        Assert.Equal(fetchesAfterADay, _idp.JwksHits);
        Assert.Null(_cache.Current(_source));
    }

    [Fact(Timeout = 10_000)]
    public async Task A_fetch_to_a_name_resolving_to_the_metadata_address_is_refused_by_the_ssrf_guard()
    {
        // The real outbound client and connector; only name resolution is faked. The connector refuses
        // the link-local address before opening a socket, so no packet leaves the machine.
        var resolver = new RecordingResolver(IPAddress.Parse("169.254.169.254"));
        var connector = new UpstreamConnector(resolver, new UpstreamAddressPolicy { AllowLoopback = true }, NullLogger<UpstreamConnector>.Instance);
        using var outbound = new UpstreamClient(connector);
        using var cache = new OidcKeyCache(outbound.Invoker, TimeProvider.System, NullLogger<OidcKeyCache>.Instance);
        var source = OidcKeySource.ForIssuer("https://metadata.idp.test/tenant", out _)!;

        var lookup = await cache.FindAsync(source, "key-1", "RS256", Throttle, CancellationToken.None);

        Assert.Equal(KeyLookupStatus.Unavailable, lookup.Status);
        Assert.Equal(["metadata.idp.test"], resolver.Lookups);
    }

    [Theory]
    [InlineData("https://login.microsoftonline.com/tenant/v2.0", "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration")]
    [InlineData("https://sts.windows.net/tenant/", "https://sts.windows.net/tenant/.well-known/openid-configuration")]
    [InlineData("https://idp.test/.well-known/openid-configuration", "https://idp.test/.well-known/openid-configuration")]
    [InlineData("http://127.0.0.1:5000/realm", "http://127.0.0.1:5000/realm/.well-known/openid-configuration")]
    [InlineData("http://localhost:5000", "http://localhost:5000/.well-known/openid-configuration")]
    [InlineData("http://[::1]:5000", "http://[::1]:5000/.well-known/openid-configuration")]
    public void Issuer_urls_map_to_their_discovery_document(string issuer, string discovery)
    {
        var source = OidcKeySource.ForIssuer(issuer, out var error);

        Assert.True(source is not null, error);
        Assert.Equal(discovery, source.Url.AbsoluteUri);
    }

    [Theory]
    [InlineData("http://idp.test/realm", "must use https")]
    [InlineData("http://10.0.0.5/realm", "must use https")]
    [InlineData("ftp://idp.test/realm", "must use https")]
    [InlineData("/realm", "not an absolute URL")]
    [InlineData("https://user:pw@idp.test/realm", "user info")]
    [InlineData("https://idp.test/realm#x", "fragment")]
    public void Idp_urls_must_be_https_unless_loopback(string url, string message)
    {
        Assert.Null(OidcKeySource.TryParseUrl(url, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    private sealed class RecordingResolver(IPAddress answer) : IUpstreamResolver
    {
        public List<string> Lookups { get; } = [];

        public ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            lock (Lookups)
            {
                Lookups.Add(host);
            }

            return ValueTask.FromResult(new[] { answer });
        }
    }
}
