namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// A request value that does not fit its field. Thrown inside the recursive codec only and caught at its
/// entry points (<see cref="JsonToProto.TryEncode"/>, <see cref="RequestMessageBuilder.TryBuild"/>), which turn it
/// into an outcome naming the field.
/// </summary>
internal sealed class TranscodeException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
