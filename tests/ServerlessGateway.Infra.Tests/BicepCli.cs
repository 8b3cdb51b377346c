using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace ServerlessGateway.Infra.Tests;

/// <summary>Runs the Bicep CLI restored from NuGet (Azure.Bicep.CommandLine.linux-x64).</summary>
internal static class BicepCli
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);
    private static readonly Lock s_executableLock = new();
    private static bool s_executableChecked;

    /// <summary>The package ships a linux-x64 binary only.</summary>
    public static bool IsSupportedPlatform =>
        OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64;

    public const string UnsupportedPlatformReason = "The Bicep CLI package referenced here ships a linux-x64 binary only.";

    public static async Task<BicepResult> RunAsync(string workingDirectory, params string[] arguments)
    {
        var executable = EnsureExecutable();
        var startInfo = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {executable}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within {s_timeout}.");
        }

        return new BicepResult(process.ExitCode, await stdout, await stderr);
    }

    private static string EnsureExecutable()
    {
        var path = RepositoryPaths.BicepExecutable;
        lock (s_executableLock)
        {
            if (s_executableChecked)
            {
                return path;
            }

            if (!File.Exists(path))
            {
                throw new FileNotFoundException("The Bicep CLI was not restored; run dotnet restore.", path);
            }

            // NuGet extraction does not always keep the executable bit.
            if (!OperatingSystem.IsWindows())
            {
                var mode = File.GetUnixFileMode(path);
                const UnixFileMode Execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                if ((mode & UnixFileMode.UserExecute) == 0)
                {
                    File.SetUnixFileMode(path, mode | Execute);
                }
            }

            s_executableChecked = true;
            return path;
        }
    }
}

internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Diagnostic lines ("path(line,col) : Warning|Error CODE: message") from either stream.</summary>
    public IReadOnlyList<string> Diagnostics { get; } =
        (StandardError + "\n" + StandardOutput)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.Contains(" : Warning ", StringComparison.Ordinal)
                || line.Contains(" : Error ", StringComparison.Ordinal)
                || line.Contains(" : Info ", StringComparison.Ordinal))
            .ToArray();

    public string Describe() => $"exit code {ExitCode}\nstderr:\n{StandardError}";
}
