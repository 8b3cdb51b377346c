using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ServerlessGateway.EndToEnd.Tests.Infrastructure;

/// <summary>One log event as a logger provider saw it: category, level, event id, rendered message and structured values.</summary>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Values, Exception? Exception);

/// <summary>A logger provider that keeps every event (add it with <c>services.AddSingleton&lt;ILoggerProvider&gt;(capture)</c>).</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<CapturedLog> Entries { get; } = new();

    public IEnumerable<CapturedLog> In(string category) => Entries.Where(e => e.Category == category);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.ToDictionary(p => p.Key, p => p.Value)
                : new Dictionary<string, object?>();
            owner.Entries.Enqueue(new CapturedLog(category, logLevel, eventId, formatter(state, exception), values, exception));
        }
    }
}
