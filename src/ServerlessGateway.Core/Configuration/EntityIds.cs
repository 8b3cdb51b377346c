using System.Security.Cryptography;
using System.Text;

namespace ServerlessGateway.Configuration;

/// <summary>
/// Entity ids. Kong's DB-less mode derives missing ids deterministically from each entity's natural
/// key (UUID v5), so loading the same file twice gives the same ids; we do the same.
/// </summary>
internal static class EntityIds
{
    // RFC 9562 UUID v5 over a namespace of our own.
    private static readonly Guid Namespace = new("6f1c3f0e-2b51-4c39-9a5e-7f0d4a1e9b20");

    public static string Derive(string kind, string naturalKey)
    {
        Span<byte> ns = stackalloc byte[16];
        Namespace.TryWriteBytes(ns, bigEndian: true, out _);
        var name = Encoding.UTF8.GetBytes(kind + "\n" + naturalKey);
        var input = new byte[16 + name.Length];
        ns.CopyTo(input);
        name.CopyTo(input, 16);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input, hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString();
    }

    public static bool IsValid(string id) => Guid.TryParseExact(id, "D", out _);
}
