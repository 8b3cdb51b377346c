using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace ServerlessGateway.Observability;

/// <summary>
/// A pull reader on the gateway's meter for <c>GET /_gateway/metrics</c>: each scrape collects the
/// cumulative values and writes them in the Prometheus text format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/). Names follow the OpenTelemetry to
/// Prometheus mapping: dots become underscores, seconds get <c>_seconds</c>, counters <c>_total</c>.
/// </summary>
internal sealed class PrometheusScrape
{
    private readonly TextExporter _exporter = new();
    private readonly Lock _gate = new();

    public PrometheusScrape()
    {
        Reader = new BaseExportingMetricReader(_exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    public MetricReader Reader { get; }

    /// <summary>The current values as Prometheus text (empty when the meter provider has not started).</summary>
    public string Collect()
    {
        lock (_gate)
        {
            _exporter.Text.Clear();
            _exporter.Collecting = true;
            try
            {
                Reader.Collect(timeoutMilliseconds: 5_000);
            }
            finally
            {
                _exporter.Collecting = false;
            }
            return _exporter.Text.ToString();
        }
    }

    // Not marked pull-only: the SDK lets pull-only readers collect only inside its own (internal) scrape scope.
    private sealed class TextExporter : BaseExporter<Metric>
    {
        public StringBuilder Text { get; } = new();

        public volatile bool Collecting;

        public override ExportResult Export(in Batch<Metric> batch)
        {
            // Only a scrape's collection is written out; flushes at shutdown have no reader.
            if (!Collecting)
            {
                return ExportResult.Success;
            }

            foreach (var metric in batch)
            {
                Write(Text, metric);
            }

            return ExportResult.Success;
        }
    }

    private static void Write(StringBuilder text, Metric metric)
    {
        var name = Name(metric);
        var (type, suffix) = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => ("counter", "_total"),
            MetricType.Histogram => ("histogram", ""),
            _ => ("gauge", ""),
        };
        if (metric.MetricType == MetricType.ExponentialHistogram)
        {
            return;
        }

        text.Append("# HELP ").Append(name).Append(suffix).Append(' ').AppendLine(metric.Description.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal));
        text.Append("# TYPE ").Append(name).Append(suffix).Append(' ').AppendLine(type);
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            switch (metric.MetricType)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    Sample(text, name + suffix, labels, null, point.GetSumLong());
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    Sample(text, name + suffix, labels, null, point.GetSumDouble());
                    break;
                case MetricType.LongGauge:
                    Sample(text, name, labels, null, point.GetGaugeLastValueLong());
                    break;
                case MetricType.DoubleGauge:
                    Sample(text, name, labels, null, point.GetGaugeLastValueDouble());
                    break;
                case MetricType.Histogram:
                    long cumulative = 0;
                    foreach (var bucket in point.GetHistogramBuckets())
                    {
                        cumulative += bucket.BucketCount;
                        var bound = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : bucket.ExplicitBound.ToString(CultureInfo.InvariantCulture);
                        Sample(text, name + "_bucket", labels, bound, cumulative);
                    }

                    Sample(text, name + "_sum", labels, null, point.GetHistogramSum());
                    Sample(text, name + "_count", labels, null, point.GetHistogramCount());
                    break;
            }
        }
    }

    private static string Name(Metric metric)
    {
        var name = metric.Name.Replace('.', '_').Replace('-', '_');
        return metric.Unit == "s" ? name + "_seconds" : name;
    }

    private static string Labels(ReadOnlyTagCollection tags)
    {
        var labels = new StringBuilder();
        foreach (var tag in tags)
        {
            labels.Append(labels.Length == 0 ? "" : ",")
                .Append(tag.Key.Replace('.', '_'))
                .Append("=\"")
                .Append(Convert.ToString(tag.Value, CultureInfo.InvariantCulture)?
                    .Replace("\\", "\\\\", StringComparison.Ordinal)
                    .Replace("\"", "\\\"", StringComparison.Ordinal)
                    .Replace("\n", "\\n", StringComparison.Ordinal))
                .Append('"');
        }

        return labels.ToString();
    }

    private static void Sample(StringBuilder text, string name, string labels, string? le, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || le is not null)
        {
            text.Append('{').Append(labels);
            if (le is not null)
            {
                text.Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').AppendLine(value.ToString(CultureInfo.InvariantCulture));
    }
}
