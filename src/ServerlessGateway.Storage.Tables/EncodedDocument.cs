using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// A config document in its stored form: gzip of the UTF-8 bytes, with the SHA-256 and length of
/// those bytes so a reader can prove it reassembled exactly what was written.
/// </summary>
internal sealed class EncodedDocument
{
    private EncodedDocument(byte[] compressed, long size, string sha256)
    {
        Compressed = compressed;
        Size = size;
        Sha256 = sha256;
    }

    public byte[] Compressed { get; }

    /// <summary>Length of the UTF-8 document in bytes.</summary>
    public long Size { get; }

    /// <summary>Lower-case hex SHA-256 of the UTF-8 document.</summary>
    public string Sha256 { get; }

    public static EncodedDocument Encode(string document)
    {
        var utf8 = Encoding.UTF8.GetBytes(document);
        using var buffer = new MemoryStream(utf8.Length / 4 + 64);
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(utf8);
        }

        return new EncodedDocument(buffer.ToArray(), utf8.LongLength, Convert.ToHexStringLower(SHA256.HashData(utf8)));
    }

    /// <summary>Decompresses and verifies length and hash.</summary>
    /// <exception cref="InvalidDataException">The stored bytes are not the document that was written.</exception>
    public static string Decode(byte[] compressed, long size, string sha256)
    {
        if (size < 0 || size > Array.MaxLength)
        {
            throw new InvalidDataException($"recorded size {size} is out of range");
        }

        var utf8 = new byte[size];
        using (var gzip = new GZipStream(new MemoryStream(compressed, writable: false), CompressionMode.Decompress))
        {
            try
            {
                gzip.ReadExactly(utf8);
            }
            catch (EndOfStreamException)
            {
                throw new InvalidDataException($"decompressed document is shorter than the recorded {size} bytes");
            }

            // One byte past the recorded size proves the stream is not longer (and bounds the work).
            if (gzip.Read(new byte[1]) != 0)
            {
                throw new InvalidDataException($"decompressed document is longer than the recorded {size} bytes");
            }
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(utf8));
        if (!string.Equals(actual, sha256, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"SHA-256 {actual} does not match the recorded {sha256}");
        }

        return Encoding.UTF8.GetString(utf8);
    }
}
