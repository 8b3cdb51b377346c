using System.Text.Json;

namespace ServerlessGateway.Authentication;

/// <summary>
/// The JSON of a JWS header or claims set (RFC 7515 §5.2, RFC 7519 §7.2): a document without duplicate member
/// names (RFC 7515 §5.2 lets a parser reject them, which leaves no doubt which <c>alg</c> or <c>exp</c> counts)
/// whose every name and string is Unicode text. System.Text.Json parses invalid UTF-8 inside a string and
/// an escaped lone surrogate (<c>"\ud800"</c>) without complaint and only throws when the string is read, which
/// would be deep inside a plugin; such a token is refused here as not JSON instead.
/// </summary>
internal static class JoseJson
{
    private static readonly JsonDocumentOptions Options = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    /// <summary>The parsed document, or null when <paramref name="utf8"/> is not such JSON.</summary>
    public static JsonDocument? TryParse(byte[] utf8)
    {
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(utf8, Options);
            ReadAllText(document.RootElement);
            return document;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            document?.Dispose();
            return null;
        }
    }

    /// <summary>Reads every member name and string, which throws <see cref="InvalidOperationException"/> on one that is not text.</summary>
    private static void ReadAllText(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    ReadAllText(item);
                }

                break;
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    _ = member.Name;
                    ReadAllText(member.Value);
                }

                break;
        }
    }
}
