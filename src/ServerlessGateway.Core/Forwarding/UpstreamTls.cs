using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ServerlessGateway.Configuration;
using ServerlessGateway.Registry;

namespace ServerlessGateway.Forwarding;

/// <summary>
/// A service's upstream TLS settings, compiled with the snapshot: whether and how the upstream's
/// certificate is verified (<c>tls_verify</c>, <c>tls_verify_depth</c>, <c>ca_certificates</c>) and
/// which client certificate it is shown (<c>client_certificate</c>). <see cref="UpstreamClient"/>
/// keeps one connection pool per <see cref="PoolKey"/>, so a connection set up under one set of
/// rules is never reused by a service with other rules.
/// </summary>
internal sealed class UpstreamTls(string poolKey, bool verify, int? depth, X509Certificate2Collection? trustedRoots, SslStreamCertificateContext? clientCertificate, string? unavailable)
{
    public static readonly HttpRequestOptionsKey<UpstreamTls> OptionKey = new("ServerlessGateway.UpstreamTls");

    /// <summary>Equal for settings that may share connections.</summary>
    public string PoolKey => poolKey;

    /// <summary>The service's <c>ca_certificates</c>: when set, the only trust anchors (Kong's rule); else the system's.</summary>
    public X509Certificate2Collection? TrustedRoots => trustedRoots;

    public SslStreamCertificateContext? ClientCertificate => clientCertificate;

    /// <summary>Why these settings cannot be used (e.g. a key reference that does not resolve): such requests answer 502.</summary>
    public string? Unavailable => unavailable;

    /// <summary>
    /// The service's settings, or null when it needs none of its own: a cleartext protocol, or
    /// verification against the system's roots without a client certificate (the shared default pool).
    /// </summary>
    public static UpstreamTls? For(ServiceConfig service, GatewayConfig config, CredentialProtector? protector)
    {
        if (service.Protocol is not ("https" or "grpcs"))
        {
            return null;
        }

        // Secure default: null verifies (Kong's null means nginx's proxy_ssl_verify off; docs/protocols.md).
        var verify = service.TlsVerify ?? true;
        if (verify && service.TlsVerifyDepth is null && service.CaCertificates.Count == 0 && service.ClientCertificate is null)
        {
            return null;
        }

        var key = new StringBuilder(verify ? "verify" : "no-verify");
        string? unavailable = null;
        X509Certificate2Collection? roots = null;
        if (verify)
        {
            key.Append(";depth=").Append(service.TlsVerifyDepth?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-");
            if (service.CaCertificates.Count > 0)
            {
                roots = LoadRoots(service.CaCertificates, config, ref unavailable);
                key.Append(";roots=").AppendJoin(',', roots.Select(r => r.Thumbprint).Order(StringComparer.Ordinal));
            }
        }

        SslStreamCertificateContext? client = null;
        if (service.ClientCertificate is { } id)
        {
            client = LoadClientCertificate(config.Certificates.FirstOrDefault(c => c.Id == id), protector, ref unavailable);
            key.Append(";client=").Append(client?.TargetCertificate.Thumbprint ?? id);
        }

        return new UpstreamTls(key.ToString(), verify, service.TlsVerifyDepth, roots, client, unavailable);
    }

    /// <summary>The <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/> of this pool.</summary>
    public bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (!verify)
        {
            return true;
        }

        // The name check stands whatever the trust store: the certificate must be for the host asked for.
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        if (TrustedRoots is null)
        {
            return errors == SslPolicyErrors.None && WithinDepth(chain?.ChainElements.Count ?? 0);
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(TrustedRoots);
        // As nginx without proxy_ssl_crl, and as SocketsHttpHandler's default: no revocation check.
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            // The intermediates the upstream sent.
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        var leaf = certificate as X509Certificate2;
        using var loaded = leaf is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        return custom.Build(leaf ?? loaded!) && WithinDepth(custom.ChainElements.Count);
    }

    /// <summary>
    /// OpenSSL's verify depth, as nginx's proxy_ssl_verify_depth: depth d allows levels 0 (the peer)
    /// to d + 1 (the trust anchor), i.e. at most d intermediates.
    /// </summary>
    private bool WithinDepth(int elements) => depth is not { } limit || elements <= limit + 2;

    private static X509Certificate2Collection LoadRoots(IReadOnlyList<string> ids, GatewayConfig config, ref string? unavailable)
    {
        var roots = new X509Certificate2Collection();
        foreach (var id in ids)
        {
            if (config.CaCertificates.FirstOrDefault(c => c.Id == id) is { } ca)
            {
                roots.ImportFromPem(ca.Cert);
            }
            else
            {
                // Import rejects this; a snapshot compiled from an unchecked config fails closed.
                unavailable ??= $"ca_certificate '{id}' is not configured";
            }
        }

        return roots;
    }

    private static SslStreamCertificateContext? LoadClientCertificate(CertificateConfig? entry, CredentialProtector? protector, ref string? unavailable)
    {
        if (entry is null)
        {
            unavailable ??= "the client certificate is not configured";
            return null;
        }

        string? keyPem;
        if (VaultReference.TryParse(entry.Key, out var variable))
        {
            keyPem = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(keyPem))
            {
                unavailable ??= $"the client certificate's key reference names environment variable {variable}, which is not set";
                return null;
            }
        }
        else if (entry.Key.StartsWith(CredentialProtector.EncryptedPrefix, StringComparison.Ordinal))
        {
            if (protector is null || !protector.TryReveal(entry.Key, out keyPem))
            {
                unavailable ??= "the client certificate's key cannot be decrypted with Gateway:Secrets:Key";
                return null;
            }
        }
        else
        {
            keyPem = entry.Key;
        }

        try
        {
            var all = new X509Certificate2Collection();
            all.ImportFromPem(entry.Cert);
            var leaf = X509Certificate2.CreateFromPem(entry.Cert, keyPem);
            if (OperatingSystem.IsWindows())
            {
                // SChannel cannot use an ephemeral key for a client certificate: give it a PKCS#12 round trip.
                using var ephemeral = leaf;
                leaf = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
            }

            return SslStreamCertificateContext.Create(leaf, new X509Certificate2Collection(all.Skip(1).ToArray()), offline: true);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // Never the key's text, nor the exception's (it may quote the PEM).
            unavailable ??= "the client certificate or its key is not valid PEM, or they do not match";
            return null;
        }
    }
}

/// <summary>A request for a service whose TLS settings could not be loaded (see <see cref="UpstreamTls.Unavailable"/>).</summary>
public sealed class UpstreamTlsUnavailableException(string message) : HttpRequestException(message);
