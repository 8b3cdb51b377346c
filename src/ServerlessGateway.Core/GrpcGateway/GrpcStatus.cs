using Microsoft.AspNetCore.Http;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// gRPC status codes and their HTTP statuses, as google.rpc.Code documents the mapping
/// (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto).
/// </summary>
internal static class GrpcStatus
{
    private static readonly (string Name, int Http)[] Codes =
    [
        ("OK", StatusCodes.Status200OK),
        ("CANCELLED", 499),
        ("UNKNOWN", StatusCodes.Status500InternalServerError),
        ("INVALID_ARGUMENT", StatusCodes.Status400BadRequest),
        ("DEADLINE_EXCEEDED", StatusCodes.Status504GatewayTimeout),
        ("NOT_FOUND", StatusCodes.Status404NotFound),
        ("ALREADY_EXISTS", StatusCodes.Status409Conflict),
        ("PERMISSION_DENIED", StatusCodes.Status403Forbidden),
        ("RESOURCE_EXHAUSTED", StatusCodes.Status429TooManyRequests),
        ("FAILED_PRECONDITION", StatusCodes.Status400BadRequest),
        ("ABORTED", StatusCodes.Status409Conflict),
        ("OUT_OF_RANGE", StatusCodes.Status400BadRequest),
        ("UNIMPLEMENTED", StatusCodes.Status501NotImplemented),
        ("INTERNAL", StatusCodes.Status500InternalServerError),
        ("UNAVAILABLE", StatusCodes.Status503ServiceUnavailable),
        ("DATA_LOSS", StatusCodes.Status500InternalServerError),
        ("UNAUTHENTICATED", StatusCodes.Status401Unauthorized),
    ];

    /// <summary>UNKNOWN (500) for a code outside 0-16, as gRPC treats one.</summary>
    public static int ToHttp(int code) => code >= 0 && code < Codes.Length ? Codes[code].Http : StatusCodes.Status500InternalServerError;

    public static string Name(int code) => code >= 0 && code < Codes.Length ? Codes[code].Name : "UNKNOWN";
}
