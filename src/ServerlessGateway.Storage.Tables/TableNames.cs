using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace ServerlessGateway.Storage.Tables;

/// <summary>
/// The gateway's table names, all <c>{prefix}...</c> (DESIGN.md §4) so that deployments and tests
/// sharing one account isolate themselves by prefix.
/// </summary>
internal sealed partial class TableNames
{
    public const string PrefixKey = "Gateway:TablePrefix";
    public const string DefaultPrefix = "Gateway";

    public TableNames(string prefix)
    {
        // Table names are 3-63 letters and digits, starting with a letter
        // (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#table-names);
        // 32 leaves room for the suffixes of later tables.
        if (!PrefixPattern().IsMatch(prefix))
        {
            throw new InvalidOperationException(
                $"{PrefixKey} (environment: Gateway__TablePrefix) must be 1-32 ASCII letters and digits starting with a letter, got '{prefix}'.");
        }

        Prefix = prefix;
    }

    public string Prefix { get; }

    /// <summary>The config registry: pointer, history and one partition per version.</summary>
    public string Config => Prefix + "Config";

    public static TableNames FromConfiguration(IConfiguration configuration)
    {
        var prefix = configuration[PrefixKey];
        return new TableNames(string.IsNullOrEmpty(prefix) ? DefaultPrefix : prefix);
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,31}$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
