using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServerlessGateway.Configuration;
using ServerlessGateway.Tests.Plugins;

namespace ServerlessGateway.Tests.GrpcGateway;

/// <summary>Import-time validation of grpc-gateway: every problem of the descriptor set named by its config path.</summary>
public sealed class GrpcGatewayConfigTests
{
    private static IReadOnlyList<ConfigIssue> Errors(string config) => KongDeclarativeParser.Parse($"""
        _format_version: "3.0"
        plugins:
        - name: grpc-gateway
          config: {config}
        """).Errors;

    [Fact]
    public void A_descriptor_set_built_by_protoc_imports()
    {
        Assert.Empty(Errors($"{{descriptor_set: \"{TestDescriptors.Base64}\", ignore_unknown_fields: true, max_message_size: 1024, services: [transcoding.v1.Things]}}"));
    }

    [Theory]
    [InlineData("{}", "descriptor_set", "required")]
    [InlineData("{descriptor_set: \"not base64!\"}", "descriptor_set", "base64 of a FileDescriptorSet")]
    [InlineData("{descriptor_set: \"AAECAwQ=\"}", "descriptor_set", "not a complete FileDescriptorSet")]
    [InlineData("{descriptor_set: \"$SET\", services: [nope.Missing]}", "services[0]", "'nope.Missing' is not in the descriptor set")]
    [InlineData("{descriptor_set: \"$SET\", services: [transcoding.v1.Plain]}", "descriptor_set", "google.api.http annotation")]
    [InlineData("{descriptor_set: \"$SET\", proto: /etc/x.proto}", "proto", "descriptor_set")]
    [InlineData("{descriptor_set: \"$SET\", max_message_size: 0}", "max_message_size", "")]
    [InlineData("{descriptor_set: \"$SET\", colour: red}", "colour", "unknown field")]
    public void Invalid_configs_are_rejected_by_field(string config, string field, string reason)
    {
        PluginConfigAssert.Error(Errors(config.Replace("$SET", TestDescriptors.Base64, StringComparison.Ordinal)), field, reason);
    }

    [Fact]
    public void A_descriptor_set_missing_an_import_is_rejected()
    {
        var set = FileDescriptorSet.Parser.ParseFrom(Convert.FromBase64String(TestDescriptors.Base64));
        var withoutImports = new FileDescriptorSet { File = { set.File.Where(f => f.Name == "transcoding.proto") } };

        PluginConfigAssert.Error(Errors($"{{descriptor_set: \"{Convert.ToBase64String(withoutImports.ToByteArray())}\"}}"), "descriptor_set", "not a complete FileDescriptorSet");
    }

    [Fact]
    public void Rules_naming_missing_fields_or_bad_templates_are_rejected_naming_the_method()
    {
        var set = FileDescriptorSet.Parser.WithExtensionRegistry([Google.Api.AnnotationsExtensions.Http]).ParseFrom(Convert.FromBase64String(TestDescriptors.Base64));
        var file = set.File.Single(f => f.Name == "transcoding.proto");
        var methods = file.Service.Single(s => s.Name == "Things").Method;
        methods.Single(m => m.Name == "GetThing").Options.GetExtension(Google.Api.AnnotationsExtensions.Http).Get = "/v1/{nmae}";
        methods.Single(m => m.Name == "UpdateThing").Options.GetExtension(Google.Api.AnnotationsExtensions.Http).Body = "thingy";
        methods.Single(m => m.Name == "ListPage").Options.GetExtension(Google.Api.AnnotationsExtensions.Http).ResponseBody = "pages";
        methods.Single(m => m.Name == "Echo").Options.GetExtension(Google.Api.AnnotationsExtensions.Http).Post = "/v1/**/x";

        var errors = Errors($"{{descriptor_set: \"{Convert.ToBase64String(set.ToByteArray())}\"}}");

        PluginConfigAssert.Error(errors, "descriptor_set", "transcoding.v1.Things.GetThing: google.api.http rule path '/v1/{nmae}': 'nmae': transcoding.v1.GetThingRequest has no field 'nmae'");
        PluginConfigAssert.Error(errors, "descriptor_set", "transcoding.v1.Things.UpdateThing: google.api.http rule: body 'thingy' is not a field of transcoding.v1.UpdateThingRequest");
        PluginConfigAssert.Error(errors, "descriptor_set", "transcoding.v1.Things.ListPage: google.api.http rule: response_body 'pages' is not a field of transcoding.v1.Page");
        PluginConfigAssert.Error(errors, "descriptor_set", "transcoding.v1.Things.Echo: google.api.http rule path '/v1/**/x' may have '**' only as its last segment");
    }
}
