using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ServerlessGateway.Testing;

/// <summary>
/// Azurite's Table service (the repo's pinned <c>node_modules/.bin/azurite-table</c>) on a free loopback
/// port, in memory. Use it as an xunit fixture (<c>IClassFixture&lt;AzuriteServer&gt;</c> or a collection
/// fixture) or with <see cref="StartNewAsync"/>. <see cref="StopAsync"/> and <see cref="StartAsync"/>
/// simulate an outage: the server comes back on the same port, without its data.
/// This file has no dependency on its test project; other test projects link it as a source file.
/// </summary>
public sealed class AzuriteServer : Xunit.IAsyncLifetime, IAsyncDisposable, IDisposable
{
    public const string AccountName = "devstoreaccount1";

    /// <summary>The emulator's well-known development key (public, documented by Microsoft).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly ConcurrentDictionary<AzuriteServer, byte> Running = new();
    private static int _exitHookInstalled;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private int _port;
    private bool _disposed;

    /// <summary>The loopback port; chosen at the first start and kept across restarts.</summary>
    public int Port => _port != 0 ? _port : throw new InvalidOperationException("Azurite has not been started.");

    /// <summary><c>http://127.0.0.1:PORT/devstoreaccount1</c> (path-style account, as <c>--disableProductStyleUrl</c> requires).</summary>
    public Uri TableEndpoint => new($"http://127.0.0.1:{Port}/{AccountName}");

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};TableEndpoint={TableEndpoint};";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The last lines Azurite printed, for failure messages.</summary>
    public string RecentOutput => string.Join(Environment.NewLine, _output);

    public static async Task<AzuriteServer> StartNewAsync(CancellationToken cancellationToken = default)
    {
        var server = new AzuriteServer();
        try
        {
            await server.StartAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts Azurite (no-op when running) and waits, at most 30 s, until its port accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsRunning)
            {
                return;
            }

            var executable = FindExecutable();
            var firstStart = _port == 0;
            for (var attempt = 1; ; attempt++)
            {
                if (firstStart)
                {
                    _port = FreePort();
                }

                try
                {
                    await LaunchAsync(executable, cancellationToken);
                    return;
                }
                catch (InvalidOperationException) when (firstStart && attempt < 3 && RecentOutput.Contains("EADDRINUSE", StringComparison.Ordinal))
                {
                    // Another process took the free port between probe and bind: pick another.
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills Azurite and its process tree and waits until it has exited (the port then refuses connections).</summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await KillAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await StopAsync();
        _disposed = true;
        _gate.Dispose();
    }

    /// <summary>Synchronous backstop (xunit v2 calls it on fixtures after <c>IAsyncLifetime.DisposeAsync</c>).</summary>
    public void Dispose()
    {
        Kill(_process);
    }

    Task Xunit.IAsyncLifetime.InitializeAsync() => StartAsync();

    Task Xunit.IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    private async Task LaunchAsync(string executable, CancellationToken cancellationToken)
    {
        _output.Clear();
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in new[]
        {
            "--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--skipApiVersionCheck", "--disableProductStyleUrl", "--loose", "--disableTelemetry", "--silent",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {executable}.");
        }

        _process = process;
        Running.TryAdd(this, 0);
        InstallExitHook();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        try
        {
            while (true)
            {
                if (process.HasExited)
                {
                    // Let the output readers drain what the process printed before it died.
                    await process.WaitForExitAsync(deadline.Token);
                    throw new InvalidOperationException(
                        $"Azurite exited with code {process.ExitCode} before listening on 127.0.0.1:{_port}:{Environment.NewLine}{RecentOutput}");
                }

                if (await AcceptsConnectionsAsync(_port, deadline.Token))
                {
                    return;
                }

                await Task.Delay(50, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await KillAsync();
            throw new TimeoutException($"Azurite did not listen on 127.0.0.1:{_port} within {StartTimeout.TotalSeconds} s:{Environment.NewLine}{RecentOutput}");
        }
        catch
        {
            await KillAsync();
            throw;
        }
    }

    private async Task KillAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        Running.TryRemove(this, out _);
        Kill(process);
        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Azurite (pid {process.Id}) did not exit within {StopTimeout.TotalSeconds} s of being killed.");
        }
        finally
        {
            process.Dispose();
        }
    }

    private static void Kill(Process? process)
    {
        try
        {
            if (process is { HasExited: false })
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting already.
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 100)
        {
            _output.TryDequeue(out _);
        }
    }

    /// <summary>If the test host exits without disposing (a crash, an abort), still leave no node process behind.</summary>
    private static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref _exitHookInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var server in Running.Keys)
                {
                    Kill(server._process);
                }
            };
        }
    }

    private static async Task<bool> AcceptsConnectionsAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindExecutable()
    {
        var root = FindRepositoryRoot();
        var executable = Path.Combine(root, "node_modules", ".bin", OperatingSystem.IsWindows() ? "azurite-table.cmd" : "azurite-table");
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed: {executable} is missing. Run `npm ci` in {root} (./test.sh does it before the tests).");
        }

        return executable;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "package.json")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException(
            $"No package.json above {AppContext.BaseDirectory}: run the tests from a clone of the repository (Azurite is installed there by `npm ci`).");
    }
}
