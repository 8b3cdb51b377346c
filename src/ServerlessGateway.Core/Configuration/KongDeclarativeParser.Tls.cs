using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServerlessGateway.Configuration;

/// <summary>Upstream TLS: Kong's <c>ca_certificates</c> and <c>certificates</c> entities and the service fields naming them.</summary>
public static partial class KongDeclarativeParser
{
    /// <summary>Kong's range for <c>tls_verify_depth</c>.</summary>
    private const int MaxVerifyDepth = 64;

    private sealed partial class Reader
    {
        private readonly List<CaCertificateConfig> _caCertificates = [];
        private readonly List<CertificateConfig> _certificates = [];

        private void ReadCaCertificate(ConfigNode node, string path)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var cert = map.String("cert", required: true);
            var parsed = cert is null ? null : ReadPemCertificates(map, cert);
            if (parsed is { Count: > 1 })
            {
                map.Error("cert", "a CA certificate entry holds exactly one certificate");
            }
            else if (parsed is { Count: 1 } && parsed[0].Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            {
                // Kong's own check: a trust anchor must say it is one.
                map.Error("cert", "the certificate is not a CA: it lacks the basic constraint CA:TRUE");
            }

            var digest = map.String("cert_digest");
            if (digest is not null && parsed is { Count: 1 } && !string.Equals(digest, CertificateDigest(parsed[0]), StringComparison.OrdinalIgnoreCase))
            {
                map.Error("cert_digest", "does not match the certificate (SHA-256 of its DER bytes, hex)");
            }

            var ca = new CaCertificateConfig
            {
                Id = ReadId(map, "ca_certificate", cert ?? path),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Cert = cert ?? "",
                Tags = ReadTags(map),
            };
            _caCertificates.Add(ca);
            _paths[ca] = path;
            map.Finish();
        }

        private void ReadCertificate(ConfigNode node, string path)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var cert = map.String("cert", required: true);
            var key = map.String("key", required: true);
            var parsed = cert is null ? null : ReadPemCertificates(map, cert);
            if (key is not null)
            {
                CheckPrivateKey(map, parsed is null ? null : cert, key);
            }

            map.KongDefault("cert_alt", "null", "one certificate per entry");
            map.KongDefault("key_alt", "null", "one certificate per entry");
            // SNIs select certificates the gateway serves; TLS terminates in front of it (Front Door / App Service).
            map.KongDefault("snis", "[]", "certificates are used only as upstream client certificates here");
            var certificate = new CertificateConfig
            {
                Id = ReadId(map, "certificate", cert ?? path),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Cert = cert ?? "",
                Key = key ?? "",
                Tags = ReadTags(map),
            };
            _certificates.Add(certificate);
            _paths[certificate] = path;
            map.Finish();
        }

        private static X509Certificate2Collection? ReadPemCertificates(MapReader map, string pem)
        {
            var certificates = new X509Certificate2Collection();
            try
            {
                certificates.ImportFromPem(pem);
            }
            catch (CryptographicException)
            {
                certificates.Clear();
            }

            if (certificates.Count == 0)
            {
                map.Error("cert", "expected a PEM certificate (-----BEGIN CERTIFICATE-----)");
                return null;
            }

            return certificates;
        }

        /// <summary>Checks the key's form, and a plain PEM key against the certificate. Never echoes the key.</summary>
        private static void CheckPrivateKey(MapReader map, string? cert, string key)
        {
            if (key.StartsWith(Registry.CredentialProtector.EncryptedPrefix, StringComparison.Ordinal))
            {
                return;
            }

            if (VaultReference.IsReference(key))
            {
                if (!VaultReference.TryParse(key, out _))
                {
                    map.Error("key", "a vault reference must be {vault://env/NAME} with NAME of letters, digits, '-' and '_'");
                }

                return;
            }

            if (!key.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                map.Error("key", "expected a PEM private key, an 'enc:v1:' value exported by this gateway, or a {vault://env/NAME} reference");
                return;
            }

            if (cert is null)
            {
                return;
            }

            try
            {
                using var pair = X509Certificate2.CreateFromPem(cert, key);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                map.Error("key", "not a valid PEM private key for the certificate in 'cert'");
            }
        }

        /// <summary>The service's upstream TLS fields; Kong allows them on TLS protocols only.</summary>
        private (bool? Verify, int? Depth, IReadOnlyList<string> CaCertificates, string? ClientCertificate) ReadServiceTls(MapReader map, string protocol)
        {
            bool? verify = map.Get("tls_verify") is null or { Kind: ConfigNodeKind.Null } ? null : map.Bool("tls_verify", true);
            int? depth = map.Get("tls_verify_depth") is null or { Kind: ConfigNodeKind.Null } ? null : map.Int("tls_verify_depth", 0, 0, MaxVerifyDepth);
            var cas = map.StringList("ca_certificates").ToList();
            for (var i = 0; i < cas.Count; i++)
            {
                if (!EntityIds.IsValid(cas[i]))
                {
                    _errors.Add(new($"{map.At("ca_certificates")}[{i}]", "expected the id (a UUID) of an entry in ca_certificates"));
                }

                cas[i] = cas[i].ToLowerInvariant();
            }

            var client = ReadReference(map, "client_certificate")?.ToLowerInvariant();
            if (protocol is not ("https" or "grpcs"))
            {
                // Kong: "value must be null" unless the protocol speaks TLS.
                foreach (var (field, set) in (ReadOnlySpan<(string, bool)>)[("tls_verify", verify is not null), ("tls_verify_depth", depth is not null),
                    ("ca_certificates", cas.Count > 0), ("client_certificate", client is not null)])
                {
                    if (set)
                    {
                        map.Error(field, $"only https and grpcs services use upstream TLS: must be null for protocol '{protocol}'");
                    }
                }
            }

            return (verify, depth, cas, client);
        }

        /// <summary>Unique ids, and service references that resolve.</summary>
        private void ValidateTls()
        {
            CheckUnique(_caCertificates, c => c.Id, "id", "ca_certificate");
            CheckUnique(_certificates, c => c.Id, "id", "certificate");
            var cas = _caCertificates.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            var certificates = _certificates.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var service in _services)
            {
                for (var i = 0; i < service.CaCertificates.Count; i++)
                {
                    if (!cas.Contains(service.CaCertificates[i]))
                    {
                        _errors.Add(new($"{_paths[service]}.ca_certificates[{i}]", $"no ca_certificate with id '{service.CaCertificates[i]}'"));
                    }
                }

                if (service.ClientCertificate is { } client && !certificates.Contains(client))
                {
                    _errors.Add(new($"{_paths[service]}.client_certificate", $"no certificate with id '{client}'"));
                }
            }
        }
    }

    /// <summary>Kong's <c>cert_digest</c>: SHA-256 of the certificate's DER bytes, lower-case hex.</summary>
    internal static string CertificateDigest(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
}
