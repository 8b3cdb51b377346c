// Open-loop load for bench/ratelimit.sh: sends an exact number of requests per segment and stream, evenly
// paced, spread over the gateway instances by fixed weights, and counts the answers per segment, stream and
// instance. Segments can be aligned to UTC minutes, so that a segment is exactly one fixed rate-limit window
// of the gateways (same machine clock): every request is attributed to the window of its send time, no
// request is sent within GuardMilliseconds of a boundary, and an answer that arrives after its segment ended
// (the gateway may have decided it in the next window) is reported as "straddled".
//
// Usage: RateLimitLoad <plan.json> <counts.tsv>. The plan is written by bench/ratelimit.sh; see Plan below.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: RateLimitLoad <plan.json> <counts.tsv>");
    return 2;
}

var plan = JsonSerializer.Deserialize<Plan>(await File.ReadAllTextAsync(args[0]), new JsonSerializerOptions(JsonSerializerDefaults.Web))
    ?? throw new InvalidOperationException("empty plan");
var clock = TimeProvider.System;
var instances = plan.Urls.Length;
var guard = TimeSpan.FromMilliseconds(plan.GuardMilliseconds);

// Start: the next UTC minute boundary at least LeadSeconds away, or LeadSeconds from now.
var now = clock.GetUtcNow();
var lead = TimeSpan.FromSeconds(plan.LeadSeconds);
DateTimeOffset start;
if (plan.AlignToMinute)
{
    var earliest = now + lead;
    start = new DateTimeOffset(earliest.Year, earliest.Month, earliest.Day, earliest.Hour, earliest.Minute, 0, TimeSpan.Zero);
    if (start < earliest)
    {
        start = start.AddMinutes(1);
    }
}
else
{
    start = now + lead;
}

// The whole schedule up front: (time, segment, stream, instance, key) sorted by time.
var segmentStarts = new DateTimeOffset[plan.Segments.Length + 1];
segmentStarts[0] = start;
for (var s = 0; s < plan.Segments.Length; s++)
{
    segmentStarts[s + 1] = segmentStarts[s] + TimeSpan.FromSeconds(plan.Segments[s].Seconds);
}

var schedule = new List<Send>();
for (var s = 0; s < plan.Segments.Length; s++)
{
    var segment = plan.Segments[s];
    if (segment.Weights.Length != instances)
    {
        throw new InvalidOperationException($"segment {segment.Name}: {segment.Weights.Length} weights for {instances} instances");
    }

    var span = segmentStarts[s + 1] - segmentStarts[s] - (2 * guard);
    for (var t = 0; t < plan.Streams.Length; t++)
    {
        var stream = plan.Streams[t];
        var picker = new WeightedRoundRobin(segment.Weights);
        for (var j = 0; j < stream.Requests; j++)
        {
            var at = segmentStarts[s] + guard + (span * ((j + 0.5) / stream.Requests));
            schedule.Add(new Send(at, s, t, picker.Next(), stream.Keys[j % stream.Keys.Length]));
        }
    }
}

schedule.Sort(static (a, b) => a.At.CompareTo(b.At));

var counts = new Counts(plan.Segments.Length, plan.Streams.Length, instances);
var latencies = plan.Streams.Select(s => new List<double>(s.Requests * plan.Segments.Length)).ToArray();
var lateness = new double[schedule.Count];

using var handler = new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    UseCookies = false,
    MaxConnectionsPerServer = plan.MaxInFlight,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
};
using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(plan.TimeoutSeconds) };
var inFlight = new SemaphoreSlim(plan.MaxInFlight, plan.MaxInFlight);
var tasks = new List<Task>(schedule.Count);

Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"[load] {schedule.Count} requests in {plan.Segments.Length} segment(s) from {start:HH:mm:ss.fff} UTC to {segmentStarts[^1]:HH:mm:ss.fff} UTC (waiting {(start - now).TotalSeconds:F1} s)"));

for (var i = 0; i < schedule.Count; i++)
{
    var send = schedule[i];
    var wait = send.At - clock.GetUtcNow();
    if (wait > TimeSpan.Zero)
    {
        await Task.Delay(wait);
    }

    await inFlight.WaitAsync();
    var sentAt = clock.GetUtcNow();
    lateness[i] = (sentAt - send.At).TotalMilliseconds;
    tasks.Add(SendAsync(send, sentAt));
    if (i > 0 && schedule[i - 1].Segment != send.Segment)
    {
        Console.Error.WriteLine($"[load] segment {send.Segment + 1}/{plan.Segments.Length} ({plan.Segments[send.Segment].Name}) started");
    }
}

await Task.WhenAll(tasks);

// counts.tsv: one row per segment, stream and instance.
var tsv = new StringBuilder("segment\tname\twindow_start_utc\tstream\tinstance\tsent\tstatus_200\tstatus_429\tstatus_503\tother_status\tfailed\tstraddled\tstraddled_200\n");
for (var s = 0; s < plan.Segments.Length; s++)
{
    for (var t = 0; t < plan.Streams.Length; t++)
    {
        for (var n = 0; n < instances; n++)
        {
            var c = counts.At(s, t, n);
            tsv.Append(CultureInfo.InvariantCulture,
                $"{s + 1}\t{plan.Segments[s].Name}\t{segmentStarts[s]:yyyy-MM-ddTHH:mm:ss.fffZ}\t{plan.Streams[t].Name}\t{n + 1}\t{c.Sent}\t{c.Ok}\t{c.TooMany}\t{c.Unavailable}\t{c.Other}\t{c.Failed}\t{c.Straddled}\t{c.StraddledOk}\n");
        }
    }
}

await File.WriteAllTextAsync(args[1], tsv.ToString());

// One summary line per stream on stdout, for the script's report.
Array.Sort(lateness);
for (var t = 0; t < plan.Streams.Length; t++)
{
    var l = latencies[t];
    l.Sort();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"LOAD stream={plan.Streams[t].Name} requests={l.Count} p50_ms={Percentile(l, 0.50):F2} p99_ms={Percentile(l, 0.99):F2} max_ms={(l.Count > 0 ? l[^1] : 0):F2}"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"PACING sends={lateness.Length} late_p99_ms={Percentile(lateness, 0.99):F2} late_max_ms={(lateness.Length > 0 ? lateness[^1] : 0):F2} start_utc={start:yyyy-MM-ddTHH:mm:ss.fffZ} end_utc={segmentStarts[^1]:yyyy-MM-ddTHH:mm:ss.fffZ}"));
return 0;

async Task SendAsync(Send send, DateTimeOffset sentAt)
{
    var stream = plan.Streams[send.Stream];
    var status = 0;
    var watch = Stopwatch.StartNew();
    try
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, plan.Urls[send.Instance] + stream.Path);
        if (stream.Header is { Length: > 0 } header)
        {
            request.Headers.TryAddWithoutValidation(header, send.Key);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        status = (int)response.StatusCode;
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        status = 0;
    }
    finally
    {
        inFlight.Release();
    }

    var elapsed = watch.Elapsed;
    var endedAt = clock.GetUtcNow();
    var segmentEnd = segmentStarts[send.Segment + 1];
    var straddled = sentAt >= segmentEnd || endedAt >= segmentEnd;
    counts.Record(send.Segment, send.Stream, send.Instance, status, straddled);
    lock (latencies[send.Stream])
    {
        latencies[send.Stream].Add(elapsed.TotalMilliseconds);
    }
}

static double Percentile(IReadOnlyList<double> sorted, double q) =>
    sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

/// <summary>What bench/ratelimit.sh asks for.</summary>
internal sealed record Plan
{
    /// <summary>Gateway base URLs (no trailing slash), one per instance.</summary>
    public required string[] Urls { get; init; }

    /// <summary>Start at a UTC minute boundary (segments of 60 s are then the gateways' minute windows).</summary>
    public bool AlignToMinute { get; init; }

    /// <summary>At least this long before the first request (to the boundary when aligned).</summary>
    public double LeadSeconds { get; init; } = 1;

    /// <summary>No request within this many ms of a segment boundary.</summary>
    public double GuardMilliseconds { get; init; } = 50;

    public int MaxInFlight { get; init; } = 256;

    public double TimeoutSeconds { get; init; } = 5;

    public required Segment[] Segments { get; init; }

    public required LoadStream[] Streams { get; init; }
}

/// <summary>A span of time with a fixed spread of requests over the instances (weights, one per instance).</summary>
internal sealed record Segment(string Name, double Seconds, int[] Weights);

/// <summary>Requests per segment to one path, with a header (e.g. <c>apikey</c>) cycling through Keys.</summary>
internal sealed record LoadStream(string Name, string Path, int Requests, string? Header, string[] Keys);

internal readonly record struct Send(DateTimeOffset At, int Segment, int Stream, int Instance, string Key);

/// <summary>Smooth weighted round robin (nginx's): an exact spread for any prefix of the sequence.</summary>
internal sealed class WeightedRoundRobin(int[] weights)
{
    private readonly int[] _current = new int[weights.Length];
    private readonly int _total = weights.Sum();

    public int Next()
    {
        var best = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            _current[i] += weights[i];
            if (_current[i] > _current[best])
            {
                best = i;
            }
        }

        _current[best] -= _total;
        return best;
    }
}

internal sealed class Counts(int segments, int streams, int instances)
{
    private readonly Cell[] _cells = Enumerable.Range(0, segments * streams * instances).Select(_ => new Cell()).ToArray();

    public Cell At(int segment, int stream, int instance) => _cells[(((segment * streams) + stream) * instances) + instance];

    public void Record(int segment, int stream, int instance, int status, bool straddled)
    {
        var cell = At(segment, stream, instance);
        lock (cell)
        {
            cell.Sent++;
            switch (status)
            {
                case (int)HttpStatusCode.OK: cell.Ok++; break;
                case (int)HttpStatusCode.TooManyRequests: cell.TooMany++; break;
                case (int)HttpStatusCode.ServiceUnavailable: cell.Unavailable++; break;
                case 0: cell.Failed++; break;
                default: cell.Other++; break;
            }

            if (straddled)
            {
                cell.Straddled++;
                if (status == (int)HttpStatusCode.OK)
                {
                    cell.StraddledOk++;
                }
            }
        }
    }

    internal sealed class Cell
    {
        public long Sent;
        public long Ok;
        public long TooMany;
        public long Unavailable;
        public long Other;
        public long Failed;
        public long Straddled;
        public long StraddledOk;
    }
}
