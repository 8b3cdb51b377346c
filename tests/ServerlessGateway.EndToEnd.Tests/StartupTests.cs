using System.Diagnostics;

namespace ServerlessGateway.EndToEnd.Tests;

public sealed class StartupTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_bad_config_file_makes_the_standalone_host_say_why_and_exit_non_zero()
    {
        var file = Path.Combine(Path.GetTempPath(), $"sg-bad-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, "_format_version: \"3.0\"\nservices:\n- name: s\n  url: ftp://nope\n  routes:\n  - {name: r, paths: [relative]}\n");
        try
        {
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "ServerlessGateway.Standalone.dll"), "--urls", "http://127.0.0.1:0"])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.Environment["Gateway__ConfigFile"] = file;
            start.Environment["Logging__LogLevel__Default"] = "None";
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);

            Assert.Equal(1, process.ExitCode);
            var errors = await stderr;
            Assert.Contains("services[0].url", errors, StringComparison.Ordinal);
            Assert.Contains("services[0].routes[0].paths[0]", errors, StringComparison.Ordinal);
            await stdout;
        }
        finally
        {
            File.Delete(file);
        }
    }
}
