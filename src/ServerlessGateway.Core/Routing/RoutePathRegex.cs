using System.Text.RegularExpressions;

namespace ServerlessGateway.Routing;

/// <summary>
/// Kong's regex paths (<c>~</c> prefix; anchored at the start of the path, as Kong anchors them).
/// Compiled once per snapshot with a match timeout; at import, a pattern that backtracks
/// catastrophically on adversarial probes is rejected instead of being left to time out per request.
/// </summary>
internal static class RoutePathRegex
{
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(100);
    private const RegexOptions Options = RegexOptions.CultureInvariant;

    public static bool TryCompile(string pattern, out Regex? regex, out string error)
    {
        regex = null;
        try
        {
            var anchored = "^(?:" + pattern + ")";
            var probe = new Regex(anchored, Options, ProbeTimeout);
            if (IsCatastrophic(probe, pattern))
            {
                error = $"regex '{pattern}' backtracks catastrophically (it exceeded {ProbeTimeout.TotalMilliseconds} ms on a short adversarial input)";
                return false;
            }

            regex = new Regex(anchored, Options | RegexOptions.Compiled, MatchTimeout);
            error = "";
            return true;
        }
        catch (ArgumentException ex)
        {
            error = $"invalid regex '{pattern}': {ex.Message}";
            return false;
        }
    }

    private static bool IsCatastrophic(Regex probe, string pattern)
    {
        var chars = new HashSet<char>("a0/-._A ");
        foreach (var c in pattern)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '.')
            {
                chars.Add(c);
            }
        }

        foreach (var c in chars)
        {
            var input = "/" + new string(c, 48) + "\u0001!";
            try
            {
                probe.IsMatch(input);
                probe.IsMatch(input[1..]);
            }
            catch (RegexMatchTimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}
