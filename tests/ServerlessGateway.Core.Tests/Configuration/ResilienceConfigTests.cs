using ServerlessGateway.Configuration;

namespace ServerlessGateway.Tests.Configuration;

public sealed class ResilienceConfigTests
{
    [Fact]
    public void Service_without_circuit_breaker_block_has_no_breaker()
    {
        var config = ParserTests.ParseValid("_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://s.internal\n");

        Assert.Null(config.Services[0].CircuitBreaker);
        Assert.Equal(5, config.Services[0].Retries);
    }

    [Fact]
    public void Empty_circuit_breaker_block_takes_the_documented_defaults()
    {
        var config = ParserTests.ParseValid("_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://s.internal\n  circuit_breaker: {}\n");

        var breaker = config.Services[0].CircuitBreaker;
        Assert.NotNull(breaker);
        Assert.Equal((0.5, 20, 30, 15), (breaker.FailureRatio, breaker.MinimumThroughput, breaker.SamplingDuration, breaker.BreakDuration));
        Assert.Equal([500, 502, 503, 504], breaker.FailureStatuses);
    }

    [Fact]
    public void Circuit_breaker_errors_name_the_field()
    {
        var errors = ParserTests.Errors("""
            _format_version: "3.0"
            services:
            - name: s
              url: http://s.internal
              circuit_breaker:
                failure_ratio: 0
                minimum_throughput: 1
                sampling_duration: 0
                break_duration: "15"
                failure_statuses: [500, 99]
                half_open: true
            - name: t
              url: http://t.internal
              circuit_breaker: {failure_ratio: 1.5}
            - name: u
              url: http://u.internal
              circuit_breaker: true
            """);

        ParserTests.AssertError(errors, "services[0].circuit_breaker.failure_ratio", "greater than 0");
        ParserTests.AssertError(errors, "services[0].circuit_breaker.minimum_throughput", "between 2 and");
        ParserTests.AssertError(errors, "services[0].circuit_breaker.sampling_duration", "between 1 and 86400");
        ParserTests.AssertError(errors, "services[0].circuit_breaker.break_duration", "expected an integer");
        ParserTests.AssertError(errors, "services[0].circuit_breaker.failure_statuses[1]", "between 100 and 599");
        ParserTests.AssertError(errors, "services[0].circuit_breaker.half_open", "unknown field");
        ParserTests.AssertError(errors, "services[1].circuit_breaker.failure_ratio", "at most 1");
        ParserTests.AssertError(errors, "services[2].circuit_breaker", "expected an object");
        Assert.Equal(8, errors.Count);
    }

    [Fact]
    public void Timeouts_beyond_the_Functions_request_limit_import_with_a_warning()
    {
        var result = KongDeclarativeParser.Parse("""
            _format_version: "3.0"
            services:
            - {name: slow, url: "http://slow.internal", connect_timeout: 60000, read_timeout: 170000}
            - {name: fine, url: "http://fine.internal", connect_timeout: 60000, read_timeout: 165000}
            """);

        Assert.True(result.IsValid);
        var warning = Assert.Single(result.Warnings);
        Assert.Equal("services[0]", warning.Path);
        Assert.Contains("230 s", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Healthchecks_active_and_passive_fields_are_read()
    {
        var config = ParserTests.ParseValid("""
            _format_version: "3.0"
            upstreams:
            - name: pool
              healthchecks:
                threshold: 0
                active:
                  http_path: /status
                  timeout: 0.25
                  concurrency: 3
                  healthy: {interval: 0.5, successes: 2}
                  unhealthy: {interval: 1, http_failures: 2, tcp_failures: 1, timeouts: 1, http_statuses: [500, 503]}
                passive:
                  type: http
                  unhealthy: {http_failures: 3, tcp_failures: 2}
            """);

        var checks = config.Upstreams[0].Healthchecks;
        Assert.Equal(("/status", 0.25, 3), (checks.Active.HttpPath, checks.Active.Timeout, checks.Active.Concurrency));
        Assert.Equal((0.5, 2), (checks.Active.Healthy.Interval, checks.Active.Healthy.Successes));
        Assert.Equal([200, 302], checks.Active.Healthy.HttpStatuses);
        Assert.Equal((1.0, 2, 1, 1), (checks.Active.Unhealthy.Interval, checks.Active.Unhealthy.HttpFailures, checks.Active.Unhealthy.TcpFailures, checks.Active.Unhealthy.Timeouts));
        Assert.Equal([500, 503], checks.Active.Unhealthy.HttpStatuses);
        Assert.True(checks.Active.Enabled);
        Assert.Equal((3, 2, 0), (checks.Passive.Unhealthy.HttpFailures, checks.Passive.Unhealthy.TcpFailures, checks.Passive.Unhealthy.Timeouts));
        Assert.Equal([429, 500, 503], checks.Passive.Unhealthy.HttpStatuses);
        Assert.True(checks.Passive.Enabled);
    }

    [Fact]
    public void Default_healthchecks_disable_active_and_passive_checks()
    {
        var config = ParserTests.ParseValid("_format_version: \"3.0\"\nupstreams:\n- name: pool\n");

        Assert.False(config.Upstreams[0].Healthchecks.Active.Enabled);
        Assert.False(config.Upstreams[0].Healthchecks.Passive.Enabled);
    }

    [Fact]
    public void Healthchecks_errors_name_the_field_and_unimplemented_fields_are_rejected_by_name()
    {
        var errors = ParserTests.Errors("""
            _format_version: "3.0"
            upstreams:
            - name: pool
              healthchecks:
                threshold: 25
                active:
                  type: tcp
                  http_path: status
                  timeout: 0
                  concurrency: 0
                  headers: {x-probe: [1]}
                  healthy: {interval: -1, successes: 256}
                  unhealthy: {http_failures: x, http_statuses: [404, 1000]}
                passive:
                  type: tcp
                  healthy: {interval: 5}
                  unhealthy: {timeouts: 300, bogus: 1}
            """);

        ParserTests.AssertError(errors, "upstreams[0].healthchecks.threshold", "only Kong's default 0");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.type", "not supported");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.http_path", "should start with: /");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.timeout", "greater than 0");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.concurrency", "between 1 and");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.headers", "not supported");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.healthy.interval", "between 0 and 65535");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.healthy.successes", "between 0 and 255");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.unhealthy.http_failures", "expected an integer");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.active.unhealthy.http_statuses[1]", "between 200 and 999");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.passive.type", "only Kong's default \"http\"");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.passive.healthy.interval", "unknown field");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.passive.unhealthy.timeouts", "between 0 and 255");
        ParserTests.AssertError(errors, "upstreams[0].healthchecks.passive.unhealthy.bogus", "unknown field");
        Assert.Equal(14, errors.Count);
    }
}
