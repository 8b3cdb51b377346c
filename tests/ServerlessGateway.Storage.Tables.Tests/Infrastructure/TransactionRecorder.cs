using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using ServerlessGateway.Observability;

namespace ServerlessGateway.Storage.Tables.Tests.Infrastructure;

/// <summary>A <see cref="GatewayMetrics"/> of its own and a listener that keeps every table transaction it counts.</summary>
internal sealed class TransactionRecorder : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Store, string Operation)> _transactions = new();

    public TransactionRecorder()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument == Metrics.TableTransactions)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? store = null, operation = null;
            foreach (var tag in tags)
            {
                store = tag.Key == "store" ? tag.Value as string : store;
                operation = tag.Key == "operation" ? tag.Value as string : operation;
            }

            for (var i = 0; i < value; i++)
            {
                _transactions.Enqueue((store ?? "?", operation ?? "?"));
            }
        });
        _listener.Start();
    }

    public GatewayMetrics Metrics { get; }

    /// <summary>Transactions per operation since the last <see cref="Clear"/>.</summary>
    public IReadOnlyDictionary<string, int> ByOperation(string store) =>
        _transactions.Where(t => t.Store == store).GroupBy(t => t.Operation).ToDictionary(g => g.Key, g => g.Count());

    public int Total(string store) => _transactions.Count(t => t.Store == store);

    public void Clear() => _transactions.Clear();

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }
}
