using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;

namespace ServerlessGateway.Tests.Authentication;

/// <summary>Import-time validation of the openid-connect plugin: every error by name and path, Kong Enterprise's defaults accepted.</summary>
public sealed class OpenIdConnectConfigTests
{
    private static string Config(string pluginConfig) => $"""
        _format_version: "3.0"
        consumers:
        - username: anon
        plugins:
        - name: openid-connect
          config:
        {string.Join("\n", pluginConfig.Split('\n').Select(l => "    " + l))}
        """;

    private static IReadOnlyList<ConfigIssue> Errors(string pluginConfig) => KongDeclarativeParser.Parse(Config(pluginConfig)).Errors;

    private static void AssertError(IReadOnlyList<ConfigIssue> errors, string field, string messagePart) =>
        PluginConfigAssert.Error(errors, field, messagePart);

    [Fact]
    public void A_full_bearer_setup_imports()
    {
        var errors = Errors("""
            issuer: https://login.microsoftonline.com/tenant/v2.0
            issuers_allowed: [https://login.microsoftonline.com/tenant/v2.0]
            audience_required: [api://orders, "11111111-2222-3333-4444-555555555555"]
            scopes_required: ["orders.read orders.write", orders.admin]
            roles_required: [Orders.Reader]
            consumer_claim: [preferred_username]
            consumer_by: [username, custom_id, id]
            consumer_optional: false
            credential_claim: [oid]
            upstream_headers_claims: [email, tid]
            upstream_headers_names: [X-User-Email, X-Tenant]
            leeway: 60
            rediscovery_lifetime: 10
            anonymous: anon
            run_on_preflight: false
            hide_credentials: true
            auth_methods: [bearer]
            bearer_token_param_type: [header]
            ssl_verify: true
            """);

        Assert.Empty(errors);
    }

    [Fact]
    public void Kong_enterprise_defaults_of_fields_outside_the_subset_are_accepted()
    {
        var errors = Errors("""
            issuer: https://idp.test/.well-known/openid-configuration
            auth_methods: [password, client_credentials, authorization_code, bearer, introspection, userinfo, kong_oauth2, refresh_token, session]
            bearer_token_param_type: [header, query, body]
            scopes_claim: [scope]
            audience_claim: [aud]
            roles_claim: [roles]
            consumer_by: [username, custom_id]
            session_cookie_name: session
            scopes: [openid]
            verify_signature: true
            verify_claims: true
            enable_hs_signatures: false
            timeout: 10000
            client_id: null
            ignore_signature: []
            redis: {host: 127.0.0.1, port: 6379}
            upstream_access_token_header: "authorization:bearer"
            """);

        Assert.Empty(errors);
    }

    [Fact]
    public void Fields_outside_the_subset_with_other_values_and_unknown_fields_are_rejected_by_name()
    {
        var errors = Errors("""
            issuer: https://idp.test
            verify_signature: false
            enable_hs_signatures: true
            client_id: [my-client]
            extra_jwks_uris: [https://other.test/keys]
            redis: {host: redis.internal}
            no_such_field: 1
            auth_methods: [bearer, introspection]
            bearer_token_param_type: [query]
            """);

        AssertError(errors, "verify_signature", "only Kong's default true");
        AssertError(errors, "enable_hs_signatures", "only Kong's default false");
        AssertError(errors, "client_id", "not supported");
        AssertError(errors, "extra_jwks_uris", "not supported");
        AssertError(errors, "redis", "not supported");
        AssertError(errors, "no_such_field", "unknown field");
        AssertError(errors, "auth_methods", "only [\"bearer\"]");
        AssertError(errors, "bearer_token_param_type", "must contain \"header\"");
        Assert.Equal(8, errors.Count);
    }

    [Theory]
    [InlineData("leeway: 0", "issuer", "set 'issuer' (discovery) or 'jwks_uri'")]
    [InlineData("issuer: http://idp.test/realm", "issuer", "must use https")]
    [InlineData("issuer: idp.test", "issuer", "not an absolute URL")]
    [InlineData("jwks_uri: http://10.1.2.3/keys", "jwks_uri", "must use https")]
    [InlineData("jwks_uri: https://idp.test/keys\nissuer: ftp://idp.test", "issuer", "must use https")]
    [InlineData("issuer: https://idp.test\nleeway: -1", "leeway", "between 0 and 3600")]
    [InlineData("issuer: https://idp.test\nrediscovery_lifetime: 0", "rediscovery_lifetime", "between 1 and 86400")]
    [InlineData("issuer: https://idp.test\nconsumer_by: [email]", "consumer_by", "'email' is not one of id, username, custom_id")]
    [InlineData("issuer: https://idp.test\nconsumer_by: []", "consumer_by", "name at least one")]
    [InlineData("issuer: https://idp.test\nconsumer_claim: ['']", "consumer_claim", "must not be empty")]
    [InlineData("issuer: https://idp.test\ncredential_claim: []", "credential_claim", "name at least one claim")]
    [InlineData("issuer: https://idp.test\nupstream_headers_claims: [email]", "upstream_headers_names", "one header name for each entry")]
    [InlineData("issuer: https://idp.test\nupstream_headers_claims: [email]\nupstream_headers_names: ['X Bad']", "upstream_headers_names", "not a valid header name")]
    [InlineData("issuer: https://idp.test\nupstream_headers_claims: [sub]\nupstream_headers_names: [X-Consumer-ID]", "upstream_headers_names", "the gateway owns it")]
    [InlineData("issuer: https://idp.test\nupstream_headers_claims: [sub]\nupstream_headers_names: [Host]", "upstream_headers_names", "the gateway owns it")]
    [InlineData("issuer: https://idp.test\nanonymous: nobody", "anonymous", "no consumer 'nobody'")]
    [InlineData("issuer: https://idp.test\nscopes_required: read", "scopes_required", "expected an array")]
    [InlineData("issuer: [https://idp.test]", "issuer", "expected a string")]
    public void Bad_values_are_reported_with_their_path(string pluginConfig, string field, string message)
    {
        AssertError(Errors(pluginConfig), field, message);
    }

    [Fact]
    public void The_plugin_cannot_be_scoped_to_a_consumer()
    {
        var result = KongDeclarativeParser.Parse("""
            _format_version: "3.0"
            consumers:
            - username: alice
              plugins:
              - name: openid-connect
                config: {issuer: "https://idp.test"}
            """);

        Assert.False(result.IsValid);
    }
}
