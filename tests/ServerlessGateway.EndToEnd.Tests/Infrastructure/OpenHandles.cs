using System.Globalization;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>What this process holds open, read from Linux's /proc (the leak checks run on Linux only).</summary>
public static class OpenHandles
{
    /// <summary>TCP states of /proc/net/tcp that hold no descriptor of ours: TIME_WAIT (06) and CLOSE (07).</summary>
    private static readonly string[] Gone = ["06", "07"];

    public static bool Supported => OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd");

    /// <summary>Open file descriptors of this process, and how many of them are sockets.</summary>
    public static (int Descriptors, int Sockets) Count()
    {
        var descriptors = 0;
        var sockets = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            descriptors++;
            try
            {
                if (new FileInfo(entry).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look (the enumeration's own descriptor, for one).
            }
        }

        return (descriptors, sockets);
    }

    /// <summary>
    /// IPv4 TCP connections (not listeners, not TIME_WAIT) with <paramref name="port"/> at either end, by state:
    /// the machine's, but a test's ephemeral proxy port is used by that test only.
    /// </summary>
    public static IReadOnlyDictionary<string, int> TcpConnections(int port)
    {
        var states = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            // "  sl  local_address rem_address   st ...": addresses are HEXIP:HEXPORT.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var state = fields[3];
            if (state == "0A" || Gone.Contains(state))
            {
                continue;
            }

            if (PortOf(fields[1]) == port || PortOf(fields[2]) == port)
            {
                states[StateName(state)] = states.GetValueOrDefault(StateName(state)) + 1;
            }
        }

        return states;
    }

    private static int PortOf(string address) => int.Parse(address.AsSpan(address.IndexOf(':', StringComparison.Ordinal) + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static string StateName(string state) => state switch
    {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0B" => "CLOSING",
        _ => state,
    };
}
