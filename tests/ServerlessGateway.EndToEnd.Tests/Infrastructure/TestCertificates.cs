using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>Certificates made in-test: a CA, server certificates for 127.0.0.1 and client certificates it signs.</summary>
public static class TestCertificates
{
    public static X509Certificate2 CreateCa(string name) => CreateCa(name, issuer: null);

    /// <summary>An intermediate CA signed by <paramref name="issuer"/>.</summary>
    public static X509Certificate2 CreateIntermediate(X509Certificate2 issuer, string name = "test intermediate CA") => CreateCa(name, issuer);

    private static X509Certificate2 CreateCa(string name, X509Certificate2? issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = TimeProvider.System.GetUtcNow();
        if (issuer is null)
        {
            return request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        }

        using var issued = request.Create(issuer, now.AddDays(-1), now.AddDays(20), RandomNumberGenerator.GetBytes(12));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A server certificate for 127.0.0.1 and localhost, signed by <paramref name="ca"/>.</summary>
    public static X509Certificate2 CreateServer(X509Certificate2 ca) => CreateLeaf(ca, "127.0.0.1", server: true);

    public static X509Certificate2 CreateClient(X509Certificate2 ca, string name = "gateway-client") => CreateLeaf(ca, name, server: false);

    private static X509Certificate2 CreateLeaf(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var now = TimeProvider.System.GetUtcNow();
        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(ca, now.AddDays(-1), now.AddDays(7), serial);
        return issued.CopyWithPrivateKey(key);
    }

    public static string CertificatePem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    public static string PrivateKeyPem(X509Certificate2 certificate) =>
        certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
