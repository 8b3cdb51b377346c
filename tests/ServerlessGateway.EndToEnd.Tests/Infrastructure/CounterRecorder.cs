using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>Records the measurements of one counter of one meter instance (each test gateway has its own meter).</summary>
public sealed class CounterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(long Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

    public CounterRecorder(Meter meter, string instrumentName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) => _measurements.Enqueue((value, tags.ToArray())));
        _listener.Start();
    }

    /// <summary>The sum of the measurements carrying <paramref name="tag"/> = <paramref name="value"/>.</summary>
    public long Sum(string tag, string value) =>
        _measurements.Where(m => m.Tags.Any(t => t.Key == tag && Equals(t.Value, value))).Sum(m => m.Value);

    public long Total => _measurements.Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
