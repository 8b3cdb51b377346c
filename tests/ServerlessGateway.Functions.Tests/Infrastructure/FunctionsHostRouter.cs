using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace ServerlessGateway.Functions.Tests.Infrastructure;

/// <summary>
/// The Azure Functions host's HTTP function selection, reproduced: functions ordered by name with
/// <see cref="StringComparer.OrdinalIgnoreCase"/> (FunctionMetadataManager.LoadFunctionMetadata), each
/// route mapped in that order under the host.json routePrefix (WebScriptHostHttpRoutesManager), and the
/// first route whose template and method constraint match wins (ASP.NET Core's RouteCollection).
/// </summary>
internal sealed class FunctionsHostRouter
{
    private readonly (FunctionDescription Function, TemplateMatcher Matcher)[] _routes;

    public FunctionsHostRouter(IEnumerable<FunctionDescription> functions, string routePrefix)
    {
        _routes = functions
            .Where(f => f.HttpTrigger is not null)
            .OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase)
            .Select(f => (f, new TemplateMatcher(TemplateParser.Parse(Combine(routePrefix, f.HttpTrigger!.Route ?? f.Name)), new RouteValueDictionary())))
            .ToArray();
    }

    public FunctionDescription? Select(string method, PathString path)
    {
        foreach (var (function, matcher) in _routes)
        {
            if (function.HttpTrigger!.Accepts(method) && matcher.TryMatch(path, new RouteValueDictionary()))
            {
                return function;
            }
        }

        return null;
    }

    private static string Combine(string prefix, string route) =>
        string.IsNullOrEmpty(prefix) ? route : prefix.TrimEnd('/') + "/" + route;
}
