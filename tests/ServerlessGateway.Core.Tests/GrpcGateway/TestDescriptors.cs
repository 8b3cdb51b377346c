using ServerlessGateway.Configuration;
using ServerlessGateway.GrpcGateway;

namespace ServerlessGateway.Tests.GrpcGateway;

/// <summary>The descriptor set protoc built from tests/Protos/transcoding.proto (see the project file).</summary>
internal static class TestDescriptors
{
    public static readonly string Base64 = Convert.ToBase64String(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "transcoding.pb")));

    public static readonly GrpcDescriptorSet Set = Load();

    public static ProtoMessage Thing => Set.Schema.Message("transcoding.v1.Thing")!;

    private static GrpcDescriptorSet Load()
    {
        var errors = new List<ConfigIssue>();
        return GrpcDescriptorSet.Load(Base64, [], "descriptor_set", "services", errors)
            ?? throw new InvalidOperationException(string.Join("; ", errors));
    }
}
