using System.Net;
using ServerlessGateway.Forwarding;

namespace ServerlessGateway.Tests.Forwarding;

public sealed class UpstreamAddressPolicyTests
{
    [Theory]
    [InlineData("169.254.169.254", false)]
    [InlineData("::ffff:169.254.169.254", false)]
    [InlineData("fe80::1", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.8.9.10", false)]
    [InlineData("::1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("192.168.1.1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("20.30.40.50", true)]
    [InlineData("2001:db8::1", true)]
    public void Defaults_of_the_Functions_host(string address, bool allowed)
    {
        var policy = new UpstreamAddressPolicy();

        Assert.Equal(allowed, policy.IsAllowed(IPAddress.Parse(address), out _));
    }

    [Fact]
    public void Each_switch_opens_only_its_own_class()
    {
        var policy = new UpstreamAddressPolicy { AllowLoopback = true, AllowPrivateNetworks = false };

        Assert.True(policy.IsAllowed(IPAddress.Loopback, out _));
        Assert.False(policy.IsAllowed(IPAddress.Parse("10.0.0.1"), out var reason));
        Assert.Equal("private network", reason);
        Assert.False(policy.IsAllowed(IPAddress.Parse("169.254.169.254"), out reason));
        Assert.Equal("link-local", reason);
    }
}
