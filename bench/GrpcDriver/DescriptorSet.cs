using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServerlessGateway.Tests.Transcoding;

namespace ServerlessGateway.Bench.GrpcDriver;

/// <summary>
/// The FileDescriptorSet of transcoding.proto with every import (what <c>protoc --include_imports</c> writes),
/// from the descriptors compiled into this program, so that no protoc or .pb file is needed at bench time.
/// </summary>
internal static class DescriptorSet
{
    public static string Base64()
    {
        var files = new List<FileDescriptor>();
        AddWithImports(TranscodingReflection.Descriptor, files);

        // FileDescriptorSet { repeated FileDescriptorProto file = 1; }: each file's original bytes, unparsed,
        // so the google.api.http options (extensions) travel exactly as compiled.
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        foreach (var file in files)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(file.SerializedData);
        }

        output.Flush();
        return Convert.ToBase64String(stream.ToArray());
    }

    /// <summary>A DB-less gateway config with grpc-gateway on /v1 in front of the bench server.</summary>
    public static string GatewayConfig(int grpcPort) => $$"""
        _format_version: "3.0"
        services:
        - name: things
          protocol: grpc
          host: 127.0.0.1
          port: {{grpcPort}}
          routes:
          - name: things-rest
            paths: [/v1]
            strip_path: false
          plugins:
          - name: grpc-gateway
            config:
              descriptor_set: "{{Base64()}}"
              services: [transcoding.v1.Things]
        """;

    // Imports first, each file once.
    private static void AddWithImports(FileDescriptor file, List<FileDescriptor> files)
    {
        if (files.Contains(file))
        {
            return;
        }

        foreach (var dependency in file.Dependencies)
        {
            AddWithImports(dependency, files);
        }

        files.Add(file);
    }
}
