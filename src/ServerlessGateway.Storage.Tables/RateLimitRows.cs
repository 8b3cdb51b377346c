using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ServerlessGateway.RateLimiting;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// Layout of the rate-limit tables (DESIGN.md §4: a row per key per window per instance, in time-bucketed tables
/// dropped whole when expired, since Table Storage has no TTL):
/// <list type="bullet">
/// <item>Table <c>{prefix}Rl{bucket}</c>: the bucket holds whole windows, so the table can be dropped once its
/// bucket ended (plus <see cref="DropGrace"/>). Second and minute windows go to hourly tables (<c>H yyyyMMddHH</c>),
/// hour windows to daily ones (<c>D yyyyMMdd</c>), day windows to monthly ones (<c>M yyyyMM</c>), month and year
/// windows to yearly ones (<c>Y yyyy</c>): at most two tables of a kind live at once, and a bucket is at least
/// 60 windows long, so tables are created rarely.</item>
/// <item>Sharded counters: PartitionKey <c>{period}-{window start:yyyyMMddTHHmmss}</c> (all keys of one window, so one
/// sync batch-upserts up to 100 of an instance's rows in one transaction), RowKey <c>{key}|{instance}</c> (both
/// encoded by <see cref="Encode"/>, which never yields <c>|</c>, so <c>[{key}|, {key}})</c> is exactly the key's
/// rows), properties <c>Instance</c> (the id as given), <c>Admitted</c>, <c>Offered</c>, <c>Reserved</c> (Int64).</item>
/// <item>Strict counters: one shared row per counter, PartitionKey <c>{window partition}|{key}</c>, RowKey
/// <c>strict</c>, property <c>Count</c>: a partition of its own, so hot strict keys do not share the ~2,000
/// entities/s of one partition, and no sharded read ever meets it.</item>
/// <item>Table <c>{prefix}RlInstances</c>: PartitionKey <c>instances</c>, RowKey the encoded instance id,
/// properties <c>Instance</c>, <c>LastSeen</c>. Its name is no bucket, so it is never dropped.</item>
/// </list>
/// </summary>
internal static class RateLimitRows
{
    public const string TableInfix = "Rl";
    public const string InstancesTableSuffix = TableInfix + "Instances";
    public const string InstancesPartition = "instances";
    public const string StrictRow = "strict";
    public const string InstanceProperty = "Instance";
    public const string AdmittedProperty = "Admitted";
    public const string OfferedProperty = "Offered";
    public const string ReservedProperty = "Reserved";
    public const string CountProperty = "Count";
    public const string LastSeenProperty = "LastSeen";

    /// <summary>
    /// How long a bucket's table outlives its last window: covers clock skew between instances and a late sync of an
    /// ended window (the final flush on shutdown). A write after the drop recreates the table; the next drop removes it.
    /// </summary>
    public static readonly TimeSpan DropGrace = TimeSpan.FromMinutes(10);

    /// <summary>A heartbeat row not renewed for this long belongs to an instance that is gone for good: it is deleted.</summary>
    public static readonly TimeSpan ForgetInstanceAfter = TimeSpan.FromDays(1);

    /// <summary>Encoded keys up to this length stay as they are when every character is <see cref="IsPlain"/>.</summary>
    private const int MaxPlainLength = 128;

    /// <summary>Readable part kept in front of the hash of a key that must be hashed.</summary>
    private const int HashedPrefixLength = 48;

    /// <summary>Hex digits of SHA-256 kept: 128 bits, collision-free for any number of keys a gateway sees.</summary>
    private const int HashLength = 32;

    private const char HashMark = '~';
    private const char KeySeparator = '|';

    /// <summary>The character after <see cref="KeySeparator"/>: the exclusive end of a key's row range.</summary>
    private const char KeyRangeEnd = '}';

    public static string TableName(TableNames names, CounterId id) => names.Prefix + TableInfix + Bucket(id);

    public static string InstancesTable(TableNames names) => names.Prefix + InstancesTableSuffix;

    /// <summary>The table name range <c>[from, to)</c> holding every rate-limit table of this prefix (and only those).</summary>
    public static (string From, string To) TableRange(TableNames names) =>
        (names.Prefix + TableInfix, names.Prefix + TableInfix[0] + (char)(TableInfix[1] + 1));

    public static string Partition(CounterId id) =>
        id.Period.ToString() + "-" + Start(id).ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);

    public static string StrictPartition(CounterId id) => Partition(id) + KeySeparator + Encode(id.Key);

    public static string ShardRow(string encodedKey, string instanceId) => encodedKey + KeySeparator + Encode(instanceId);

    /// <summary>Row key range <c>[from, to)</c> holding exactly the shard rows of one encoded key.</summary>
    public static (string From, string To) KeyRange(string encodedKey) => (encodedKey + KeySeparator, encodedKey + KeyRangeEnd);

    /// <summary>The encoded key of a shard row (the part before the separator, which <see cref="Encode"/> never yields).</summary>
    public static string KeyOf(string shardRow)
    {
        var separator = shardRow.IndexOf(KeySeparator, StringComparison.Ordinal);
        return separator < 0 ? shardRow : shardRow[..separator];
    }

    /// <summary>
    /// A key or instance id as a RowKey part: as it is when short and made of letters, digits and <c>-_.:@=,;</c>
    /// (readable, and the common case); otherwise its plain characters (others as <c>_</c>, at most 48) then
    /// <c>~</c> and 128 bits of its SHA-256. RowKeys forbid <c>/ \ # ?</c> and control characters, and the
    /// separator <c>|</c> must stay out; plain keys never contain <c>~</c>, so the two forms never meet.
    /// </summary>
    public static string Encode(string value)
    {
        if (value.Length is > 0 and <= MaxPlainLength && value.All(IsPlain))
        {
            return value;
        }

        var readable = new StringBuilder(HashedPrefixLength + 1 + HashLength);
        foreach (var c in value.AsSpan(0, Math.Min(value.Length, HashedPrefixLength)))
        {
            readable.Append(IsPlain(c) ? c : '_');
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
        return readable.Append(HashMark).Append(hash, 0, HashLength).ToString();
    }

    /// <summary>
    /// The window start in UTC. Windows are clock-aligned (the port's contract): an unaligned one could outlive its
    /// bucket's table, so it is refused as a caller's bug.
    /// </summary>
    /// <exception cref="ArgumentException">The window does not start on its period's boundary.</exception>
    public static DateTime Start(CounterId id)
    {
        var start = id.WindowStart.UtcDateTime;
        var aligned = id.Period switch
        {
            RateLimitPeriod.Second => new DateTime(start.Year, start.Month, start.Day, start.Hour, start.Minute, start.Second, DateTimeKind.Utc),
            RateLimitPeriod.Minute => new DateTime(start.Year, start.Month, start.Day, start.Hour, start.Minute, 0, DateTimeKind.Utc),
            RateLimitPeriod.Hour => new DateTime(start.Year, start.Month, start.Day, start.Hour, 0, 0, DateTimeKind.Utc),
            RateLimitPeriod.Day => new DateTime(start.Year, start.Month, start.Day, 0, 0, 0, DateTimeKind.Utc),
            RateLimitPeriod.Month => new DateTime(start.Year, start.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => new DateTime(start.Year, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        };
        return aligned == start
            ? start
            : throw new ArgumentException($"The {id.Period} window of a counter must start on a UTC {id.Period} boundary, got {id.WindowStart:O}.", nameof(id));
    }

    /// <summary>The bucket suffix of a table name: kind letter and the bucket's start.</summary>
    public static string Bucket(CounterId id)
    {
        var start = Start(id);
        return id.Period switch
        {
            RateLimitPeriod.Second or RateLimitPeriod.Minute => "H" + start.ToString("yyyyMMddHH", CultureInfo.InvariantCulture),
            RateLimitPeriod.Hour => "D" + start.ToString("yyyyMMdd", CultureInfo.InvariantCulture),
            RateLimitPeriod.Day => "M" + start.ToString("yyyyMM", CultureInfo.InvariantCulture),
            _ => "Y" + start.ToString("yyyy", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>When every window of the bucket table <paramref name="tableName"/> has ended; false for any other table.</summary>
    public static bool TryGetBucketEnd(TableNames names, string tableName, out DateTimeOffset end)
    {
        end = default;
        var prefix = names.Prefix + TableInfix;
        if (!tableName.StartsWith(prefix, StringComparison.Ordinal) || tableName.Length < prefix.Length + 1)
        {
            return false;
        }

        var kind = tableName[prefix.Length];
        var digits = tableName[(prefix.Length + 1)..];
        var (format, next) = kind switch
        {
            'H' => ("yyyyMMddHH", (Func<DateTime, DateTime>)(s => s.AddHours(1))),
            'D' => ("yyyyMMdd", s => s.AddDays(1)),
            'M' => ("yyyyMM", s => s.AddMonths(1)),
            'Y' => ("yyyy", s => s.AddYears(1)),
            _ => (null, null),
        };
        if (format is null || next is null || digits.Length != format.Length || !digits.All(char.IsAsciiDigit)
            || !DateTime.TryParseExact(digits, format, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var start))
        {
            return false;
        }

        end = new DateTimeOffset(next(start), TimeSpan.Zero);
        return true;
    }

    private static bool IsPlain(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':' or '@' or '=' or ',' or ';';
}
