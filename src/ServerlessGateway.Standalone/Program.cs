using ServerlessGateway.Standalone;

var (app, config) = StandaloneGateway.Build(StandaloneGateway.CreateBuilder(args));
if (app is null)
{
    await Console.Error.WriteLineAsync($"The declarative config is invalid ({config!.Errors.Count} errors):");
    foreach (var error in config.Errors)
    {
        await Console.Error.WriteLineAsync("  " + error);
    }

    return 1;
}

await app.RunAsync();
return 0;
