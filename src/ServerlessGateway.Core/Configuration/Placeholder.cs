namespace ServerlessGateway.Configuration;

internal static class Placeholder;
