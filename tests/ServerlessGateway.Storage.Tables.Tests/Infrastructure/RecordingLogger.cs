using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.Storage.Tables.Tests.Infrastructure;

/// <summary>Keeps every log event with its structured values, to assert on what the store reports.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(EventId EventId, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Values)> Events { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
            ? pairs.ToDictionary(p => p.Key, p => p.Value)
            : new Dictionary<string, object?>();
        Events.Enqueue((eventId, logLevel, formatter(state, exception), values));
    }
}
