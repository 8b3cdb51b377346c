using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using ServerlessGateway.Configuration;

namespace ServerlessGateway.GrpcGateway;

/// <summary>
/// The plugin's <c>descriptor_set</c> compiled once: a base64 <c>FileDescriptorSet</c> (<c>protoc
/// --include_imports --descriptor_set_out</c>) -> the message tables and every <c>google.api.http</c>
/// binding of the selected services, in declaration order (the first binding that matches a request wins).
/// Every problem is reported against the config path; nothing is half-applied.
/// </summary>
internal sealed class GrpcDescriptorSet
{
    private static readonly ExtensionRegistry Extensions = [AnnotationsExtensions.Http];

    private readonly int _maxVariables;

    private GrpcDescriptorSet(ProtoSchema schema, HttpBinding[] bindings)
    {
        Schema = schema;
        Bindings = bindings;
        _maxVariables = bindings.Length == 0 ? 0 : bindings.Max(b => b.Template.Variables.Length);
    }

    public ProtoSchema Schema { get; }

    public HttpBinding[] Bindings { get; }

    /// <param name="path">The config path of <c>descriptor_set</c>, for errors.</param>
    /// <param name="services">Full names of the services to expose (<c>config.services</c>); empty: every service.</param>
    public static GrpcDescriptorSet? Load(string base64, IReadOnlyList<string> services, string path, string servicesPath, List<ConfigIssue> errors)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            errors.Add(new(path, "expected the base64 of a FileDescriptorSet (protoc --include_imports --descriptor_set_out)"));
            return null;
        }

        IReadOnlyList<FileDescriptor> files;
        try
        {
            var set = FileDescriptorSet.Parser.WithExtensionRegistry(Extensions).ParseFrom(bytes);
            files = FileDescriptor.BuildFromByteStrings(DependencyOrder(set).Select(f => f.ToByteString()), Extensions);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or DescriptorValidationException or ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            errors.Add(new(path, $"not a complete FileDescriptorSet ({e.Message}); build it with protoc --include_imports --descriptor_set_out"));
            return null;
        }

        var schema = new ProtoSchema(files);
        var declared = files.SelectMany(f => f.Services).ToDictionary(s => s.FullName, StringComparer.Ordinal);
        var selected = new List<ServiceDescriptor>();
        for (var i = 0; i < services.Count; i++)
        {
            if (declared.TryGetValue(services[i], out var service))
            {
                selected.Add(service);
            }
            else
            {
                errors.Add(new($"{servicesPath}[{i}]", $"service '{services[i]}' is not in the descriptor set (it has: {string.Join(", ", declared.Keys)})"));
            }
        }

        if (services.Count == 0)
        {
            selected.AddRange(declared.Values);
        }

        var bindings = new List<HttpBinding>();
        var before = errors.Count;
        foreach (var service in selected)
        {
            foreach (var method in service.Methods)
            {
                if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
                {
                    continue;
                }

                var grpc = new GrpcMethod(method.FullName, $"/{service.FullName}/{method.Name}",
                    schema.Message(method.InputType), schema.Message(method.OutputType), method.IsClientStreaming, method.IsServerStreaming);
                AddBinding(rule, grpc, path, bindings, errors);
                foreach (var additional in rule.AdditionalBindings)
                {
                    AddBinding(additional, grpc, path, bindings, errors);
                }
            }
        }

        if (errors.Count == before && bindings.Count == 0)
        {
            errors.Add(new(path, "no method of " + (services.Count == 0 ? "the descriptor set's services" : "the configured services")
                + " has a google.api.http annotation (google/api/annotations.proto), so nothing could be called"));
        }

        return errors.Count == before ? new GrpcDescriptorSet(schema, [.. bindings]) : null;
    }

    /// <summary>protoc writes dependencies first; a hand-assembled set may not, and BuildFromByteStrings needs that order.</summary>
    private static List<FileDescriptorProto> DependencyOrder(FileDescriptorSet set)
    {
        var byName = set.File.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var ordered = new List<FileDescriptorProto>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        void Visit(FileDescriptorProto file)
        {
            if (!done.Add(file.Name))
            {
                return;
            }

            foreach (var dependency in file.Dependency)
            {
                if (byName.TryGetValue(dependency, out var d))
                {
                    Visit(d);
                }
            }

            ordered.Add(file);
        }

        foreach (var file in set.File)
        {
            Visit(file);
        }

        return ordered;
    }

    private static void AddBinding(HttpRule rule, GrpcMethod method, string path, List<HttpBinding> bindings, List<ConfigIssue> errors)
    {
        var (verb, template) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
            HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
            HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
            HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
            HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
            HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind, rule.Custom.Path),
            _ => (null, null),
        };
        var where = $"{method.FullName}: google.api.http rule";
        if (verb is null || template is null)
        {
            errors.Add(new(path, $"{where} has no HTTP method and path"));
            return;
        }

        var parsed = PathTemplate.Parse(template, out var templateError);
        if (parsed is null)
        {
            errors.Add(new(path, $"{where} path '{template}' {templateError}"));
            return;
        }

        foreach (var variable in parsed.Variables)
        {
            if (ResolveTextField(method.Input, variable.FieldPath) is { } fieldError)
            {
                errors.Add(new(path, $"{where} path '{template}': {fieldError}"));
            }
        }

        var body = rule.Body.Length == 0 ? null : rule.Body;
        if (body is not null and not "*" && CheckTopLevel(method.Input, body, "body") is { } bodyError)
        {
            errors.Add(new(path, $"{where}: {bodyError}"));
        }

        var responseBody = rule.ResponseBody.Length == 0 ? null : rule.ResponseBody;
        if (responseBody is not null && CheckTopLevel(method.Output, responseBody, "response_body") is { } responseError)
        {
            errors.Add(new(path, $"{where}: {responseError}"));
        }

        bindings.Add(new HttpBinding(verb, parsed, body, responseBody, method));
    }

    private static string? CheckTopLevel(ProtoMessage message, string name, string what) =>
        message.Fields.Any(f => f.Name == name) ? null : $"{what} '{name}' is not a field of {message.FullName}";

    /// <summary>A path variable names a chain of singular message fields ending in a field that has a text form.</summary>
    internal static string? ResolveTextField(ProtoMessage message, string[] fieldPath)
    {
        for (var i = 0; i < fieldPath.Length; i++)
        {
            var field = message.Fields.FirstOrDefault(f => f.Name == fieldPath[i]);
            if (field is null)
            {
                return $"'{string.Join('.', fieldPath)}': {message.FullName} has no field '{fieldPath[i]}'";
            }

            if (i == fieldPath.Length - 1)
            {
                return field.IsRepeated || field.Message is { Kind: WellKnown.None or WellKnown.Struct or WellKnown.ListValue or WellKnown.Any or WellKnown.Empty }
                    ? $"'{string.Join('.', fieldPath)}' is a repeated or message field, which a path segment cannot hold"
                    : null;
            }

            if (field.IsRepeated || field.Message is not { Kind: WellKnown.None } next)
            {
                return $"'{string.Join('.', fieldPath)}': '{fieldPath[i]}' is not a singular message field";
            }

            message = next;
        }

        return null;
    }

    /// <summary>
    /// The first binding of <paramref name="httpMethod"/> whose template matches, its variables' values in the
    /// first slots of <paramref name="values"/>; <paramref name="pathMatched"/> says whether another method's did.
    /// </summary>
    public HttpBinding? Match(string httpMethod, string path, out string[] values, out bool pathMatched)
    {
        pathMatched = false;
        var scratch = _maxVariables == 0 ? [] : new string[_maxVariables];
        foreach (var binding in Bindings)
        {
            if (!binding.Template.TryMatch(path, scratch))
            {
                continue;
            }

            if (string.Equals(binding.HttpMethod, httpMethod, StringComparison.OrdinalIgnoreCase))
            {
                values = scratch;
                return binding;
            }

            pathMatched = true;
        }

        values = [];
        return null;
    }

}
