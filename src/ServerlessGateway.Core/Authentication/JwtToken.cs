using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace ServerlessGateway.Authentication;

internal enum JwtParseError
{
    None,
    TooLarge,
    Segments,
    Base64,
    Json,
    HeaderNotObject,
    ClaimsNotObject,
    Algorithm,
}

/// <summary>
/// A JWS in compact serialization (RFC 7515 §7.1), parsed without trusting it: three base64url
/// segments (no padding, no other characters), a header and a payload that are JSON objects without
/// duplicate member names (RFC 7515 §5.2 allows rejecting them; a second <c>alg</c> is never
/// ambiguous here) and with only valid Unicode in names and strings (<see cref="JoseJson"/>), and an <c>alg</c> that is one of <see cref="JwtAlgorithm.All"/>, so <c>none</c> in
/// any spelling stops here. Owns two pooled JSON documents: dispose it.
/// </summary>
internal sealed class JwtToken : IDisposable
{
    /// <summary>Longer tokens are refused before any decoding (8 KiB, what Kestrel allows a request line).</summary>
    public const int MaxLength = 8192;

    private static readonly SearchValues<char> Base64UrlChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private readonly JsonDocument _header;
    private readonly JsonDocument _payload;

    private JwtToken(string raw, int signingInputLength, JsonDocument header, JsonDocument payload, byte[] signature, JwtAlgorithm algorithm)
    {
        Raw = raw;
        SigningInputLength = signingInputLength;
        _header = header;
        _payload = payload;
        Signature = signature;
        Algorithm = algorithm;
    }

    public string Raw { get; }

    /// <summary>Length of <c>header.payload</c>, the signed part (ASCII, as the segments are base64url).</summary>
    public int SigningInputLength { get; }

    public JsonElement Header => _header.RootElement;

    public JsonElement Payload => _payload.RootElement;

    public byte[] Signature { get; }

    public JwtAlgorithm Algorithm { get; }

    public static JwtParseError TryParse(string token, out JwtToken? jwt)
    {
        jwt = null;
        if (token.Length > MaxLength)
        {
            return JwtParseError.TooLarge;
        }

        var first = token.IndexOf('.');
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (second < 0 || token.IndexOf('.', second + 1) >= 0)
        {
            return JwtParseError.Segments;
        }

        var span = token.AsSpan();
        if (!TryDecode(span[..first], out var headerBytes)
            || !TryDecode(span[(first + 1)..second], out var payloadBytes)
            || !TryDecode(span[(second + 1)..], out var signature))
        {
            return JwtParseError.Base64;
        }

        if (headerBytes.Length == 0 || payloadBytes.Length == 0)
        {
            return JwtParseError.Json;
        }

        if (JoseJson.TryParse(headerBytes) is not { } header)
        {
            return JwtParseError.Json;
        }

        if (JoseJson.TryParse(payloadBytes) is not { } payload)
        {
            header.Dispose();
            return JwtParseError.Json;
        }

        JwtAlgorithm? algorithm = null;
        var error = header.RootElement.ValueKind != JsonValueKind.Object ? JwtParseError.HeaderNotObject
            : payload.RootElement.ValueKind != JsonValueKind.Object ? JwtParseError.ClaimsNotObject
            : !header.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String
                || !JwtAlgorithm.All.TryGetValue(alg.GetString()!, out algorithm) ? JwtParseError.Algorithm
            : JwtParseError.None;
        if (error != JwtParseError.None)
        {
            header.Dispose();
            payload.Dispose();
            return error;
        }

        jwt = new JwtToken(token, second, header, payload, signature, algorithm!);
        return JwtParseError.None;
    }

    /// <summary>Kong's wording ("Bad token; ...") for each parse error.</summary>
    public static string Describe(JwtParseError error) => error switch
    {
        JwtParseError.TooLarge => $"Bad token; longer than {MaxLength} characters",
        JwtParseError.Segments => "Bad token; expected three base64url segments separated by '.'",
        JwtParseError.Base64 => "Bad token; invalid base64url",
        JwtParseError.Json => "Bad token; invalid JSON",
        JwtParseError.HeaderNotObject => "Bad token; the header is not a JSON object",
        JwtParseError.ClaimsNotObject => "Bad token; invalid claims",
        JwtParseError.Algorithm => "Bad token; invalid alg",
        _ => "Bad token",
    };

    /// <summary>Strict base64url: the JWS alphabet only, no padding, canonical trailing bits.</summary>
    private static bool TryDecode(ReadOnlySpan<char> segment, out byte[] bytes)
    {
        bytes = [];
        if (segment.ContainsAnyExcept(Base64UrlChars))
        {
            return false;
        }

        var buffer = new byte[Base64Url.GetMaxDecodedLength(segment.Length)];
        if (Base64Url.DecodeFromChars(segment, buffer, out _, out var written) != OperationStatus.Done)
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];
        return true;
    }

    /// <summary>The signed bytes: <c>header.payload</c> as ASCII, into <paramref name="destination"/>.</summary>
    public int CopySigningInput(Span<byte> destination)
    {
        var input = Raw.AsSpan(0, SigningInputLength);
        for (var i = 0; i < input.Length; i++)
        {
            destination[i] = (byte)input[i];
        }

        return input.Length;
    }

    /// <summary>
    /// The payload as claims for later plugins: strings, <c>long</c> or <c>double</c> numbers, booleans,
    /// nulls, and arrays or objects as detached <see cref="JsonElement"/>s.
    /// </summary>
    public IReadOnlyDictionary<string, object?> ToClaims()
    {
        var claims = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in Payload.EnumerateObject())
        {
            claims[property.Name] = ClaimValue(property.Value);
        }

        return claims;
    }

    private static object? ClaimValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var integer) ? integer
            : value.TryGetDouble(out var number) && double.IsFinite(number) ? number
            : value.GetRawText(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => value.Clone(),
    };

    public void Dispose()
    {
        _header.Dispose();
        _payload.Dispose();
    }
}
