using Microsoft.AspNetCore.Http;

namespace ServerlessGateway.Transforms;

/// <summary>
/// Kong's first two header operations, the same for request- and response-transformer: remove, then
/// rename (only a present header; the new name takes all its values; renaming to itself is a no-op).
/// </summary>
internal static class HeaderEdits
{
    public static void RemoveThenRename(IHeaderDictionary headers, string[] remove, (string From, string To)[] rename)
    {
        foreach (var name in remove)
        {
            headers.Remove(name);
        }

        foreach (var (from, to) in rename)
        {
            if (!from.Equals(to, StringComparison.OrdinalIgnoreCase) && headers.TryGetValue(from, out var value))
            {
                headers.Remove(from);
                headers[to] = value;
            }
        }
    }
}
