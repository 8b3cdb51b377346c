namespace ServerlessGateway.GrpcGateway;

/// <summary>A gRPC method the gateway can call: its HTTP/2 path and message types.</summary>
internal sealed record GrpcMethod(string FullName, string Path, ProtoMessage Input, ProtoMessage Output, bool ClientStreaming, bool ServerStreaming);

/// <summary>
/// One <c>google.api.http</c> rule (or one of its <c>additional_bindings</c>): the HTTP method and path
/// template, where the body goes (null: no body; <c>*</c>: the whole request message; else a top-level field)
/// and which response field is the HTTP body (null: the whole response).
/// </summary>
internal sealed record HttpBinding(string HttpMethod, PathTemplate Template, string? Body, string? ResponseBody, GrpcMethod Method);
