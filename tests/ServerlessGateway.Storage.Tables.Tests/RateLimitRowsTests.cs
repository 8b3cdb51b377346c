using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Storage.Tables.Tests;

public sealed class RateLimitRowsTests
{
    private static readonly TableNames Names = new("Gateway");

    [Theory]
    [InlineData(RateLimitPeriod.Second, "2025-03-04T05:06:07Z", "GatewayRlH2025030405", "2025-03-04T06:00:00Z")]
    [InlineData(RateLimitPeriod.Minute, "2025-03-04T05:59:00Z", "GatewayRlH2025030405", "2025-03-04T06:00:00Z")]
    [InlineData(RateLimitPeriod.Hour, "2025-03-04T23:00:00Z", "GatewayRlD20250304", "2025-03-05T00:00:00Z")]
    [InlineData(RateLimitPeriod.Day, "2025-02-28T00:00:00Z", "GatewayRlM202502", "2025-03-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Month, "2025-12-01T00:00:00Z", "GatewayRlY2025", "2026-01-01T00:00:00Z")]
    [InlineData(RateLimitPeriod.Year, "2025-01-01T00:00:00Z", "GatewayRlY2025", "2026-01-01T00:00:00Z")]
    public void TableName_IsTheBucketHoldingTheWholeWindow(RateLimitPeriod period, string start, string table, string bucketEnd)
    {
        var id = new CounterId("k", period, DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(table, RateLimitRows.TableName(Names, id));
        Assert.True(RateLimitRows.TryGetBucketEnd(Names, table, out var end));
        Assert.Equal(DateTimeOffset.Parse(bucketEnd, System.Globalization.CultureInfo.InvariantCulture), end);
        Assert.True(id.WindowEnd <= end, "the window outlives its table");
    }

    [Fact]
    public void Start_OfAWindowGivenInAnotherOffset_IsTheSameUtcWindow()
    {
        var local = new DateTimeOffset(2025, 3, 4, 7, 6, 0, TimeSpan.FromHours(2));

        Assert.Equal(
            RateLimitRows.Partition(new CounterId("k", RateLimitPeriod.Minute, new DateTimeOffset(2025, 3, 4, 5, 6, 0, TimeSpan.Zero))),
            RateLimitRows.Partition(new CounterId("k", RateLimitPeriod.Minute, local)));
        Assert.Equal("Minute-20250304T050600", RateLimitRows.Partition(new CounterId("k", RateLimitPeriod.Minute, local)));
    }

    [Theory]
    [InlineData(RateLimitPeriod.Minute, "2025-03-04T05:06:30Z")]
    [InlineData(RateLimitPeriod.Day, "2025-03-04T05:00:00Z")]
    [InlineData(RateLimitPeriod.Month, "2025-03-04T00:00:00Z")]
    public void TableName_OfAnUnalignedWindow_IsRefused(RateLimitPeriod period, string start)
    {
        var id = new CounterId("k", period, DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Throws<ArgumentException>(() => RateLimitRows.TableName(Names, id));
    }

    [Theory]
    [InlineData("GatewayConfig")]
    [InlineData("GatewayRlInstances")]
    [InlineData("GatewayRlH20250304")]
    [InlineData("GatewayRlX2025030405")]
    [InlineData("GatewayRlY2025Config")]
    [InlineData("OtherRlY2025")]
    [InlineData("GatewayRlH2025133105")]
    public void TryGetBucketEnd_OfATableThatIsNoBucketOfThisPrefix_IsFalse(string table)
    {
        Assert.False(RateLimitRows.TryGetBucketEnd(Names, table, out _));
    }

    [Theory]
    [InlineData("route:1:consumer:alice")]
    [InlineData("a/b\\c#d?e")]
    [InlineData("tab\there\u0001\u007f\u0085")]
    [InlineData("pipe|and}brace~tilde")]
    [InlineData("Grüße 😀")]
    [InlineData("")]
    public void Encode_AnyKey_IsAValidRowKeyPartWithoutTheSeparator(string key)
    {
        var encoded = RateLimitRows.Encode(key);

        Assert.DoesNotContain('|', encoded);
        Assert.DoesNotContain('}', encoded);
        Assert.All(encoded, c => Assert.True(char.IsAsciiLetterOrDigit(c) || "-_.:@=,;~".Contains(c), $"'{c}' in {encoded}"));
        Assert.InRange(encoded.Length, 1, 200);
        Assert.Equal(RateLimitRows.KeyOf(RateLimitRows.ShardRow(encoded, "instance|1")), encoded);
    }

    [Fact]
    public void Encode_KeysThatSanitizeAlike_StayApart()
    {
        string[] keys = ["a_b", "a/b", "a#b", "a?b", new string('x', 128), new string('x', 129), new string('x', 48) + "/1", new string('x', 48) + "/2"];

        var encoded = keys.Select(RateLimitRows.Encode).ToList();

        Assert.Equal(keys.Length, encoded.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal("a_b", encoded[0]);
        Assert.StartsWith("a_b~", encoded[1], StringComparison.Ordinal);
    }
}
