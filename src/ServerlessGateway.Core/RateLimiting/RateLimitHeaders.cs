using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ServerlessGateway.RateLimiting;

/// <summary>
/// The headers a client sees: Kong's <c>X-RateLimit-Limit-&lt;Period&gt;</c> / <c>X-RateLimit-Remaining-&lt;Period&gt;</c>
/// per period and <c>RateLimit-Limit</c> / <c>-Remaining</c> / <c>-Reset</c> for the most constrained one
/// (fewest remaining; on a tie the longer window, as Kong's handler), plus the IETF fields of
/// draft-ietf-httpapi-ratelimit-headers-10: <c>RateLimit-Policy</c> lists every period,
/// <c>RateLimit</c> reports the most constrained.
/// </summary>
internal static class RateLimitHeaders
{
    private static readonly string[] LimitNames =
        ["X-RateLimit-Limit-Second", "X-RateLimit-Limit-Minute", "X-RateLimit-Limit-Hour", "X-RateLimit-Limit-Day", "X-RateLimit-Limit-Month", "X-RateLimit-Limit-Year"];

    private static readonly string[] RemainingNames =
        ["X-RateLimit-Remaining-Second", "X-RateLimit-Remaining-Minute", "X-RateLimit-Remaining-Hour", "X-RateLimit-Remaining-Day", "X-RateLimit-Remaining-Month", "X-RateLimit-Remaining-Year"];

    public static void Write(IHeaderDictionary headers, ReadOnlySpan<PeriodUsage> usage, DateTimeOffset now)
    {
        var tightest = -1;
        var policy = new StringBuilder(32 * usage.Length);
        for (var i = 0; i < usage.Length; i++)
        {
            var u = usage[i];
            if (!u.Evaluated)
            {
                continue;
            }

            headers[LimitNames[(int)u.Period]] = Number(u.Limit);
            headers[RemainingNames[(int)u.Period]] = Number(u.Remaining);
            if (tightest < 0 || u.Remaining < usage[tightest].Remaining
                || (u.Remaining == usage[tightest].Remaining && u.WindowLength > usage[tightest].WindowLength))
            {
                tightest = i;
            }

            if (policy.Length > 0)
            {
                policy.Append(", ");
            }

            policy.Append(CultureInfo.InvariantCulture, $"\"{RateLimitSettings.NameOf(u.Period)}\";q={u.Limit};w={(long)u.WindowLength.TotalSeconds}");
        }

        if (tightest < 0)
        {
            return;
        }

        var t = usage[tightest];
        var reset = RateLimitWindow.SecondsUntil(t.WindowEnd, now);
        headers["RateLimit-Limit"] = Number(t.Limit);
        headers["RateLimit-Remaining"] = Number(t.Remaining);
        headers["RateLimit-Reset"] = Number(reset);
        headers["RateLimit-Policy"] = policy.ToString();
        headers["RateLimit"] = string.Create(CultureInfo.InvariantCulture, $"\"{RateLimitSettings.NameOf(t.Period)}\";r={t.Remaining};t={reset}");
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
