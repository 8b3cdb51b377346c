using System.Text.RegularExpressions;

namespace ServerlessGateway.Routing;

/// <summary>The route a request matched and what of the path it matched (for strip_path and captures).</summary>
internal readonly record struct RouteMatch(CompiledRoute Route, int MatchedLength, Match? RegexMatch);
