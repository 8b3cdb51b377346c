namespace ServerlessGateway.Configuration;

/// <summary>
/// Kong's <c>ca_certificates</c> entity: a trusted CA (PEM) that services name in their
/// <c>ca_certificates</c> to build the trust store for their upstream's TLS certificate.
/// </summary>
public sealed record CaCertificateConfig : IEntity
{
    public required string Id { get; init; }
    /// <summary>One PEM certificate.</summary>
    public required string Cert { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

/// <summary>
/// Kong's <c>certificates</c> entity, used here only as a service's <c>client_certificate</c> (upstream
/// mTLS): the gateway does not terminate TLS itself. <see cref="Key"/> is a secret: at rest it is
/// <c>enc:v1:</c> (see Registry.CredentialProtector) or a <c>{vault://env/NAME}</c> reference.
/// </summary>
public sealed record CertificateConfig : IEntity
{
    public required string Id { get; init; }
    /// <summary>The certificate, optionally followed by its intermediates (PEM).</summary>
    public required string Cert { get; init; }
    public required string Key { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public long? CreatedAt { get; init; }
    public long? UpdatedAt { get; init; }
}

/// <summary>
/// Kong's env vault reference (<c>{vault://env/NAME}</c>): the value is read from the environment
/// variable NAME, upper-cased with '-' as '_', as Kong does. In Azure, an app setting that is a Key
/// Vault reference arrives in exactly such a variable.
/// </summary>
public static class VaultReference
{
    private const string Prefix = "{vault://env/";

    public static bool IsReference(string value) => value.StartsWith(Prefix, StringComparison.Ordinal);

    public static bool TryParse(string value, out string variable)
    {
        variable = "";
        if (!IsReference(value) || !value.EndsWith('}'))
        {
            return false;
        }

        var name = value[Prefix.Length..^1];
        if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
        {
            return false;
        }

        variable = name.ToUpperInvariant().Replace('-', '_');
        return true;
    }
}
