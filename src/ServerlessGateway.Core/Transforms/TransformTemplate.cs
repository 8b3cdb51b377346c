using System.Globalization;
using System.Text;
using ServerlessGateway.Authentication;
using ServerlessGateway.Runtime;

namespace ServerlessGateway.Transforms;

/// <summary>
/// A request-transformer value compiled once per snapshot: literal text and <c>$(...)</c> expressions
/// (https://docs.konghq.com/hub/kong-inc/request-transformer/#template-as-value). Kong's expressions
/// <c>headers</c>, <c>query_params</c>, <c>uri_captures</c>, plus our extensions <c>uuid</c> (real Kong
/// renders it empty), <c>consumer.id</c>, <c>consumer.username</c>, <c>claims.&lt;name&gt;</c>,
/// <c>route.name</c>, <c>service.name</c>. Kong evaluates Lua; only these lookups are accepted, anything
/// else is rejected at import. A missing value renders empty.
/// </summary>
internal sealed class TransformTemplate
{
    private readonly Part[] _parts;

    private TransformTemplate(Part[] parts, string? literal)
    {
        _parts = parts;
        Literal = literal;
    }

    /// <summary>The value when it has no expression, else null.</summary>
    public string? Literal { get; }

    private enum Kind { Literal, Header, Query, CaptureName, CaptureIndex, Uuid, ConsumerId, ConsumerUsername, Claim, RouteName, ServiceName }

    private readonly record struct Part(Kind Kind, string Text, int Index = 0);

    /// <summary>Compiles <paramref name="source"/>; null with <paramref name="error"/> when an expression is not supported.</summary>
    public static TransformTemplate? Compile(string source, out string? error)
    {
        error = null;
        var parts = new List<Part>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < source.Length)
        {
            var start = source.IndexOf("$(", i, StringComparison.Ordinal);
            if (start < 0)
            {
                literal.Append(source, i, source.Length - i);
                break;
            }

            literal.Append(source, i, start - i);
            var end = FindClose(source, start + 2);
            if (end < 0)
            {
                error = $"unterminated template expression at offset {start}";
                return null;
            }

            var expression = source[(start + 2)..end].Trim();
            if (!TryParse(expression, out var part))
            {
                error = $"unsupported template expression '$({expression})'";
                return null;
            }

            if (literal.Length > 0)
            {
                parts.Add(new Part(Kind.Literal, literal.ToString()));
                literal.Clear();
            }

            parts.Add(part);
            i = end + 1;
        }

        if (literal.Length > 0)
        {
            parts.Add(new Part(Kind.Literal, literal.ToString()));
        }

        var onlyLiteral = parts.Count == 0 ? "" : parts is [{ Kind: Kind.Literal } single] ? single.Text : null;
        return new TransformTemplate([.. parts], onlyLiteral);
    }

    private static int FindClose(string source, int from)
    {
        char quote = '\0';
        for (var i = from; i < source.Length; i++)
        {
            var c = source[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == ')')
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryParse(string expression, out Part part)
    {
        part = default;
        switch (expression)
        {
            case "uuid":
                part = new Part(Kind.Uuid, "");
                return true;
            case "consumer.id":
                part = new Part(Kind.ConsumerId, "");
                return true;
            case "consumer.username":
                part = new Part(Kind.ConsumerUsername, "");
                return true;
            case "route.name":
                part = new Part(Kind.RouteName, "");
                return true;
            case "service.name":
                part = new Part(Kind.ServiceName, "");
                return true;
        }

        foreach (var (prefix, kind) in new[] { ("headers", Kind.Header), ("query_params", Kind.Query), ("uri_captures", Kind.CaptureName), ("claims", Kind.Claim) })
        {
            if (!expression.StartsWith(prefix, StringComparison.Ordinal) || expression.Length == prefix.Length)
            {
                continue;
            }

            var rest = expression[prefix.Length..];
            string? name = null;
            if (rest[0] == '.' && rest.Length > 1 && rest.Skip(1).All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                name = rest[1..];
                // ngx.req.get_headers() looks names up with '_' as '-' (lua-nginx-module), so headers.x_api finds X-Api.
                if (kind == Kind.Header)
                {
                    name = name.Replace('_', '-');
                }
            }
            else if (rest.Length >= 4 && rest[0] == '[' && rest[^1] == ']' && rest[1] is '"' or '\'' && rest[^2] == rest[1])
            {
                name = rest[2..^2];
            }
            else if (kind == Kind.CaptureName && rest.Length >= 3 && rest[0] == '[' && rest[^1] == ']'
                && int.TryParse(rest.AsSpan(1, rest.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                part = new Part(Kind.CaptureIndex, "", index);
                return true;
            }

            if (string.IsNullOrEmpty(name) || name.Any(c => c < ' ' || c >= 127))
            {
                return false;
            }

            part = new Part(kind, name);
            return true;
        }

        return false;
    }

    /// <summary>The value for this request; expressions whose value is missing render empty.</summary>
    public string Render(GatewayContext context)
    {
        if (Literal is not null)
        {
            return Literal;
        }

        var builder = new StringBuilder();
        foreach (var part in _parts)
        {
            builder.Append(part.Kind switch
            {
                Kind.Literal => part.Text,
                Kind.Header => context.Http.Request.Headers.TryGetValue(part.Text, out var h) ? h.ToString() : "",
                Kind.Query => FirstQueryValue(context.Request.Query, part.Text),
                Kind.CaptureName => context.Request.Match.RegexMatch is { } m && m.Groups[part.Text] is { Success: true } g ? g.Value : "",
                Kind.CaptureIndex => context.Request.Match.RegexMatch is { } m && part.Index < m.Groups.Count && m.Groups[part.Index] is { Success: true } g ? g.Value : "",
                Kind.Uuid => Guid.NewGuid().ToString(),
                Kind.ConsumerId => context.Request.Consumer?.Id ?? "",
                Kind.ConsumerUsername => context.Request.Consumer?.Username ?? "",
                Kind.Claim => context.Request.Claims is { } claims && claims.TryGetValue(part.Text, out var claim) ? TokenClaims.Scalar(claim) ?? "" : "",
                Kind.RouteName => context.Request.Match.Route.Config.Name ?? "",
                Kind.ServiceName => context.Request.Match.Route.Service?.Config.Name ?? "",
                _ => "",
            });
        }

        return builder.ToString();
    }

    /// <summary>Kong's query_params.x with a repeated parameter is a Lua table; we render its first value.</summary>
    private static string FirstQueryValue(string query, string name)
    {
        foreach (var (key, value) in QueryEditor.Parse(query))
        {
            if (key == name)
            {
                return value ?? "";
            }
        }

        return "";
    }
}
