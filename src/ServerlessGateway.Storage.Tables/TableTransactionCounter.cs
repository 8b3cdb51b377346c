using Azure;
using ServerlessGateway.Observability;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Counts every request an adapter makes to Table Storage on <see cref="GatewayMetrics.TableTransactions"/>
/// (tags <c>store</c>, <c>operation</c>): the account's throughput targets and its bill are in transactions.
/// Without metrics (an adapter built outside <c>AddServerlessGateway</c>) it counts nothing.
/// </summary>
internal sealed class TableTransactionCounter(GatewayMetrics? metrics, string store)
{
    public const string ConfigStore = "config";
    public const string RateLimitStore = "rate_limit";

    public void Add(string operation) =>
        metrics?.TableTransactions.Add(1, new KeyValuePair<string, object?>("store", store), new KeyValuePair<string, object?>("operation", operation));

    /// <summary>Enumerates a query's pages, counting every request (a failed one too) as one <paramref name="operation"/>.</summary>
    public async Task ForEachPageAsync<T>(AsyncPageable<T> query, string operation, Action<Page<T>> onPage)
        where T : notnull
    {
        await using var pages = query.AsPages().GetAsyncEnumerator();
        while (true)
        {
            bool more;
            try
            {
                more = await pages.MoveNextAsync();
            }
            catch
            {
                Add(operation);
                throw;
            }

            if (!more)
            {
                return;
            }

            Add(operation);
            onPage(pages.Current);
        }
    }
}
