using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ServerlessGateway.Infra.Tests;

/// <summary>
/// Evaluates a Front Door WAF policy's match rules for one request the way Front Door documents it:
/// enabled rules in ascending priority, conditions of a rule ANDed, values of a condition ORed,
/// transforms applied before matching, the first Allow or Block decides; Log goes on.
/// Rate-limit rules need a request history and are left out. Null: no custom rule decided, so the
/// managed rule sets see the request.
/// https://learn.microsoft.com/azure/web-application-firewall/afds/waf-front-door-custom-rules
/// </summary>
internal static class WafCustomRules
{
    public static (string Action, string Rule)? Decide(JsonArray rules, string requestUri, string socketAddress)
    {
        var ordered = rules.OfType<JsonObject>()
            .Where(r => r["enabledState"]?.GetValue<string>() != "Disabled")
            .Where(r => r["ruleType"]?.GetValue<string>() == "MatchRule")
            .OrderBy(r => r["priority"]!.GetValue<int>());
        foreach (var rule in ordered)
        {
            var conditions = rule["matchConditions"]!.AsArray().OfType<JsonObject>();
            if (!conditions.All(c => Matches(c, requestUri, socketAddress)))
            {
                continue;
            }

            var action = rule["action"]!.GetValue<string>();
            if (action != "Log")
            {
                return (action, rule["name"]!.GetValue<string>());
            }
        }

        return null;
    }

    private static bool Matches(JsonObject condition, string requestUri, string socketAddress)
    {
        var variable = condition["matchVariable"]!.GetValue<string>();
        var input = variable switch
        {
            "RequestUri" => requestUri,
            "SocketAddr" or "RemoteAddr" => socketAddress,
            _ => throw new NotSupportedException($"Match variable {variable} is not simulated."),
        };
        foreach (var transform in condition["transforms"]?.AsArray().Select(t => t!.GetValue<string>()) ?? [])
        {
            input = transform switch
            {
                "UrlDecode" => WebUtility.UrlDecode(input),
                "Lowercase" => input.ToLowerInvariant(),
                _ => throw new NotSupportedException($"Transform {transform} is not simulated."),
            };
        }

        var values = condition["matchValue"]?.AsArray().Select(v => v!.GetValue<string>()).ToArray() ?? [];
        var op = condition["operator"]!.GetValue<string>();
        var matched = op switch
        {
            "Any" => true,
            "RegEx" => values.Any(v => Regex.IsMatch(input, v, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))),
            "IPMatch" => values.Any(v => IPNetwork.Parse(v.Contains('/', StringComparison.Ordinal) ? v : $"{v}/{(v.Contains(':', StringComparison.Ordinal) ? 128 : 32)}")
                .Contains(IPAddress.Parse(input))),
            "BeginsWith" => values.Any(v => input.StartsWith(v, StringComparison.Ordinal)),
            "Contains" => values.Any(v => input.Contains(v, StringComparison.Ordinal)),
            "Equal" => values.Any(v => input == v),
            _ => throw new NotSupportedException($"Operator {op} is not simulated."),
        };
        return matched != (condition["negateCondition"]?.GetValue<bool>() ?? false);
    }
}
