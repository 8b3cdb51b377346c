namespace ServerlessGateway.Configuration;

/// <summary>An error or warning about one place in a declarative config, e.g. <c>services[1].routes[0].paths[2]</c>.</summary>
public sealed record ConfigIssue(string Path, string Message)
{
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}

/// <summary>Result of reading a declarative config: the model when there is no error, and every issue found.</summary>
public sealed record ConfigLoadResult(GatewayConfig? Config, IReadOnlyList<ConfigIssue> Errors, IReadOnlyList<ConfigIssue> Warnings)
{
    public bool IsValid => Config is not null && Errors.Count == 0;
}
