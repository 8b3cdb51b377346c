using Microsoft.AspNetCore.Http;

namespace ServerlessGateway.Functions;

/// <summary>
/// Core writes status, headers and a streamed body straight to <c>HttpContext.Response</c> (the ASP.NET
/// Core integration hands the function the worker's real HttpContext). The function then returns
/// <see cref="Results.Empty"/>, an <see cref="IResult"/> whose execution touches nothing.
/// </summary>
/// <remarks>
/// Returning a plain Task would also work at run time, but then the SDK's functions.metadata lists no
/// "$return" http binding while the worker-indexed metadata the host actually reads does; returning a
/// result keeps both descriptions identical (checked by ServerlessGateway.Functions.Tests).
/// </remarks>
internal static class CoreResponse
{
    public static async Task<IResult> WrittenBy(Task core)
    {
        await core;
        return Results.Empty;
    }
}
