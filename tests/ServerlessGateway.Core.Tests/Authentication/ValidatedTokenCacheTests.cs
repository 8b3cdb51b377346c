using Microsoft.Extensions.Time.Testing;
using ServerlessGateway.Authentication;

namespace ServerlessGateway.Tests.Authentication;

public sealed class ValidatedTokenCacheTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 27, 0, 0, 0, TimeSpan.Zero);

    private static ValidatedToken Token(TimeSpan notBefore, TimeSpan notAfter) =>
        new(null, "cred", new Dictionary<string, object?>(), Start + notBefore, Start + notAfter);

    [Fact]
    public void An_entry_is_served_only_inside_its_validity_window()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new ValidatedTokenCache(time);
        cache.Add("early", Token(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10)));
        cache.Add("ok", Token(TimeSpan.Zero, TimeSpan.FromMinutes(10)));

        Assert.False(cache.TryGet("early", out _));
        Assert.True(cache.TryGet("ok", out var hit));
        Assert.Equal("cred", hit.CredentialIdentifier);
        Assert.False(cache.TryGet("unknown", out _));

        time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(cache.TryGet("ok", out _));
    }

    [Fact]
    public void A_flood_of_distinct_tokens_never_grows_it_past_its_capacity()
    {
        var cache = new ValidatedTokenCache(new FakeTimeProvider(Start), capacity: 100);

        for (var i = 0; i < 1_000; i++)
        {
            cache.Add($"token-{i}", Token(TimeSpan.Zero, TimeSpan.FromHours(1)));
            Assert.InRange(cache.Count, 1, 100);
        }

        Assert.True(cache.TryGet("token-999", out _));
    }

    [Fact]
    public void Adding_the_same_token_again_replaces_its_entry_without_counting_it_twice()
    {
        var cache = new ValidatedTokenCache(new FakeTimeProvider(Start), capacity: 2);

        cache.Add("a", Token(TimeSpan.Zero, TimeSpan.FromHours(1)));
        cache.Add("a", Token(TimeSpan.Zero, TimeSpan.FromHours(2)));
        cache.Add("b", Token(TimeSpan.Zero, TimeSpan.FromHours(1)));

        Assert.True(cache.TryGet("a", out var a));
        Assert.Equal(Start + TimeSpan.FromHours(2), a.NotAfter);
        Assert.True(cache.TryGet("b", out _));
    }
}
