using System.Net;
using System.Text.RegularExpressions;
using ServerlessGateway.Plugins;
using ServerlessGateway.Routing;

namespace ServerlessGateway.Configuration;

/// <summary>
/// Reads Kong's declarative format (<c>_format_version: "3.0"</c>, YAML or JSON) into a
/// <see cref="GatewayConfig"/>, reporting every error at once with its path. Import rule
/// (DESIGN.md §3): a field we implement behaves as Kong documents it; a Kong field we do not
/// implement passes only at Kong's default; unknown names are rejected by name.
/// </summary>
public static partial class KongDeclarativeParser
{
    public static ConfigLoadResult Parse(string text)
    {
        ConfigNode root;
        try
        {
            root = ConfigNode.Parse(text);
        }
        catch (Exception ex) when (ex is YamlDotNet.Core.YamlException or System.Text.Json.JsonException or ConfigFormatException)
        {
            return new(null, [new("", $"malformed document: {ex.Message}")], []);
        }

        return new Reader().Read(root);
    }

    private sealed partial class Reader
    {
        private readonly List<ConfigIssue> _errors = [];
        private readonly List<ConfigIssue> _warnings = [];
        private readonly List<ServiceConfig> _services = [];
        private readonly List<RouteConfig> _routes = [];
        private readonly List<UpstreamConfig> _upstreams = [];
        private readonly List<ConsumerConfig> _consumers = [];
        private readonly List<PluginConfig> _plugins = [];
        private readonly Dictionary<object, string> _paths = new(ReferenceEqualityComparer.Instance);

        public ConfigLoadResult Read(ConfigNode root)
        {
            if (root.Kind == ConfigNodeKind.Null)
            {
                return new(null, [new("", "the document is empty")], []);
            }

            var top = MapReader.Open(root, "", _errors);
            if (top is null)
            {
                return new(null, _errors, []);
            }

            var version = top.Get("_format_version");
            if (version is null)
            {
                top.Error("_format_version", "required field missing (this gateway reads Kong's \"3.0\" format)");
            }
            else if (version.Kind != ConfigNodeKind.Scalar || version.Text != "3.0")
            {
                top.Error("_format_version", "unsupported format version: expected \"3.0\"");
            }

            top.KongDefault("_transform", "true");
            top.KongDefault("_workspace", "\"default\"");

            foreach (var (node, path) in top.List("ca_certificates"))
            {
                ReadCaCertificate(node, path);
            }

            foreach (var (node, path) in top.List("certificates"))
            {
                ReadCertificate(node, path);
            }

            foreach (var (node, path) in top.List("services"))
            {
                ReadService(node, path);
            }

            foreach (var (node, path) in top.List("routes"))
            {
                ReadRoute(node, path, service: null);
            }

            foreach (var (node, path) in top.List("upstreams"))
            {
                ReadUpstream(node, path);
            }

            foreach (var (node, path) in top.List("consumers"))
            {
                ReadConsumer(node, path);
            }

            foreach (var (node, path) in top.List("plugins"))
            {
                ReadPlugin(node, path, service: null, route: null, consumer: null);
            }

            top.Finish(TopLevelUnsupported);
            Validate();
            if (_errors.Count == 0)
            {
                NormalizeReferences();
            }

            if (_errors.Count > 0)
            {
                return new(null, _errors, _warnings);
            }

            var config = new GatewayConfig
            {
                Services = _services,
                Routes = _routes,
                Upstreams = _upstreams,
                Consumers = _consumers,
                Plugins = _plugins,
                CaCertificates = _caCertificates,
                Certificates = _certificates,
            };
            return new(config, _errors, _warnings);
        }

        private static readonly Dictionary<string, string> TopLevelUnsupported = new()
        {
            ["_info"] = "deck's _info block is not read; pass select_tags to the import call instead",
            ["targets"] = "write targets nested under their upstream",
            ["snis"] = "TLS is terminated by Azure Front Door / App Service",
            ["vaults"] = "secrets come from Azure Key Vault references in app settings",
            ["keys"] = "not implemented",
            ["key_sets"] = "not implemented",
            ["consumer_groups"] = "not implemented",
            ["workspaces"] = "not implemented",
            ["parameters"] = "not implemented",
            ["filter_chains"] = "not implemented",
            ["licenses"] = "not implemented",
        };

        private string ReadId(MapReader map, string kind, string naturalKey)
        {
            var id = map.String("id");
            if (id is null)
            {
                return EntityIds.Derive(kind, naturalKey);
            }

            if (!EntityIds.IsValid(id))
            {
                map.Error("id", "expected a UUID");
            }

            return id.ToLowerInvariant();
        }

        private static long? Timestamp(MapReader map, string key)
        {
            var node = map.Get(key);
            if (node is null || node.Kind == ConfigNodeKind.Null)
            {
                return null;
            }

            // Kong writes integer seconds; some exports carry fractions.
            if (node.Kind == ConfigNodeKind.Scalar && !node.Quoted
                && double.TryParse(node.Text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds >= 0 && seconds < 1e11)
            {
                return (long)seconds;
            }

            map.Error(key, "expected a Unix timestamp in seconds");
            return null;
        }

        private IReadOnlyList<string> ReadTags(MapReader map)
        {
            var tags = map.StringList("tags");
            for (var i = 0; i < tags.Count; i++)
            {
                if (tags[i].Length == 0 || tags[i].Any(c => char.IsControl(c) || c == ','))
                {
                    _errors.Add(new($"{map.At("tags")}[{i}]", "tags must be non-empty printable text without commas"));
                }
            }

            return tags;
        }

        private void ReadService(ConfigNode node, string path)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var name = ReadName(map);
            var protocol = "http";
            string? host = null;
            var port = 80;
            string? servicePath = null;

            var url = map.String("url");
            if (url is not null)
            {
                foreach (var field in (string[])["protocol", "host", "port", "path"])
                {
                    if (map.Has(field))
                    {
                        map.Error(field, "set either 'url' or the protocol/host/port/path fields, not both");
                    }
                }

                if (TryParseServiceUrl(url, out protocol, out host, out port, out servicePath, out var urlError))
                {
                    map.Get("protocol");
                    map.Get("host");
                    map.Get("port");
                    map.Get("path");
                }
                else
                {
                    map.Error("url", urlError);
                }
            }
            else
            {
                protocol = map.String("protocol") ?? "http";
                if (!IsServiceProtocol(protocol))
                {
                    map.Error("protocol", $"unsupported protocol '{protocol}': expected http, https, grpc or grpcs");
                }

                host = map.String("host", required: true);
                if (host is not null && !IsValidHost(host))
                {
                    map.Error("host", $"invalid host '{host}'");
                }

                port = map.Int("port", 80, 0, 65535);
                servicePath = map.String("path");
                if (servicePath is not null && !servicePath.StartsWith('/'))
                {
                    map.Error("path", "should start with: /");
                }
            }

            if (servicePath is not null && !PathCanonicalizer.IsCanonical(servicePath))
            {
                map.Error(url is null ? "path" : "url", "the path must be canonical: no dot segments, '//', encoded '/', '\\' or NUL");
            }

            var tls = ReadServiceTls(map, protocol);
            var service = new ServiceConfig
            {
                Id = ReadId(map, "service", name ?? path),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Name = name,
                Protocol = protocol,
                Host = host ?? "",
                Port = port,
                Path = servicePath,
                ConnectTimeout = map.Int("connect_timeout", 60_000, 1, int.MaxValue - 1),
                ReadTimeout = map.Int("read_timeout", 60_000, 1, int.MaxValue - 1),
                WriteTimeout = map.Int("write_timeout", 60_000, 1, int.MaxValue - 1),
                Retries = map.Int("retries", 5, 0, 32767),
                CircuitBreaker = ReadCircuitBreaker(map),
                Enabled = map.Bool("enabled", true),
                TlsVerify = tls.Verify,
                TlsVerifyDepth = tls.Depth,
                CaCertificates = tls.CaCertificates,
                ClientCertificate = tls.ClientCertificate,
                Tags = ReadTags(map),
            };
            if ((long)service.ConnectTimeout + service.ReadTimeout > (long)Resilience.RetryPolicy.Deadline.TotalMilliseconds)
            {
                _warnings.Add(new(path, "connect_timeout + read_timeout exceed 225 s: the Azure Functions host ends a request at 230 s, so a slow upstream is cut there instead of answered with the gateway's 504"));
            }

            _services.Add(service);
            _paths[service] = path;

            foreach (var (routeNode, routePath) in map.List("routes"))
            {
                ReadRoute(routeNode, routePath, service.Key);
            }

            foreach (var (pluginNode, pluginPath) in map.List("plugins"))
            {
                ReadPlugin(pluginNode, pluginPath, service.Key, route: null, consumer: null);
            }

            map.Finish();
        }

        private string? ReadName(MapReader map)
        {
            var name = map.String("name");
            if (name is not null && !NamePattern().IsMatch(name))
            {
                map.Error("name", "names may contain only letters, digits and . - _ ~ (at most 128)");
            }

            return name;
        }

        private void ReadRoute(ConfigNode node, string path, string? service)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var name = ReadName(map);
            if (service is null)
            {
                service = ReadReference(map, "service");
            }
            else if (map.Has("service"))
            {
                map.Error("service", "a route nested under a service may not name another service");
            }

            var paths = map.StringList("paths");
            for (var i = 0; i < paths.Count; i++)
            {
                ValidateRoutePath(paths[i], $"{map.At("paths")}[{i}]");
            }

            var methods = map.StringList("methods");
            for (var i = 0; i < methods.Count; i++)
            {
                if (!MethodPattern().IsMatch(methods[i]))
                {
                    _errors.Add(new($"{map.At("methods")}[{i}]", $"invalid method '{methods[i]}': methods are upper-case tokens"));
                }
            }

            var hosts = map.StringList("hosts");
            for (var i = 0; i < hosts.Count; i++)
            {
                if (!IsValidRouteHost(hosts[i]))
                {
                    _errors.Add(new($"{map.At("hosts")}[{i}]", $"invalid host '{hosts[i]}': a host name, optionally with one '*' as its first or last label, and an optional port"));
                }
            }

            var headers = ReadRouteHeaders(map);
            var pathHandling = map.String("path_handling") ?? "v0";
            if (pathHandling is not ("v0" or "v1"))
            {
                map.Error("path_handling", "expected one of: v0, v1");
            }

            var route = new RouteConfig
            {
                Id = ReadId(map, "route", name ?? $"{service}:{path}"),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Name = name,
                Service = service,
                Paths = paths,
                Methods = methods,
                Hosts = hosts,
                Headers = headers,
                StripPath = map.Bool("strip_path", true),
                PreserveHost = map.Bool("preserve_host", false),
                PathHandling = pathHandling,
                RegexPriority = map.Int("regex_priority", 0, int.MinValue, int.MaxValue),
                // Both accepted: the gateway always streams, which a client or backend cannot tell
                // from Kong's buffered default except by timing.
                RequestBuffering = map.Bool("request_buffering", true),
                ResponseBuffering = map.Bool("response_buffering", true),
                Tags = ReadTags(map),
            };
            map.KongDefault("protocols", "[\"http\",\"https\"]", "routes serve http and https");
            map.KongDefault("https_redirect_status_code", "426");
            map.KongDefault("snis", "null", "TLS is terminated in front of the gateway");
            map.KongDefault("sources", "null", "stream routes are not supported");
            map.KongDefault("destinations", "null", "stream routes are not supported");

            if (paths.Count == 0 && methods.Count == 0 && hosts.Count == 0 && headers.Count == 0)
            {
                _errors.Add(new(path, "must set one of 'methods', 'hosts', 'headers', 'paths'"));
            }

            _routes.Add(route);
            _paths[route] = path;

            foreach (var (pluginNode, pluginPath) in map.List("plugins"))
            {
                ReadPlugin(pluginNode, pluginPath, service: null, route: route.Key, consumer: null);
            }

            map.Finish(new Dictionary<string, string>
            {
                ["expression"] = "the expressions router is not supported",
                ["priority"] = "the expressions router is not supported",
            });
        }

        private void ValidateRoutePath(string routePath, string at)
        {
            if (routePath.StartsWith('~'))
            {
                if (!RoutePathRegex.TryCompile(routePath[1..], out _, out var error))
                {
                    _errors.Add(new(at, error));
                }
                else if (routePath.AsSpan(1).TrimStart('^').StartsWith(GatewayPaths.ManagementPrefix, StringComparison.Ordinal))
                {
                    _errors.Add(new(at, $"routes may not claim {GatewayPaths.ManagementPrefix}: the management API lives there"));
                }

                return;
            }

            if (!routePath.StartsWith('/'))
            {
                _errors.Add(new(at, "should start with: / (fixed path) or ~/ (regex path)"));
                return;
            }

            if (!PathCanonicalizer.IsCanonical(routePath))
            {
                _errors.Add(new(at, "must be a canonical path: no dot segments, '//', encoded '/', '\\' or NUL, and only unreserved characters percent-decoded"));
                return;
            }

            if (routePath.StartsWith(GatewayPaths.ManagementPrefix, StringComparison.Ordinal))
            {
                _errors.Add(new(at, $"routes may not claim {GatewayPaths.ManagementPrefix}: the management API lives there"));
                return;
            }

            if (IsUnderSegment(routePath, "/admin") || IsUnderSegment(routePath, "/runtime"))
            {
                _warnings.Add(new(at, "the Azure Functions host reserves /admin and /runtime: this route is served on the Standalone host only"));
            }
        }

        private static bool IsUnderSegment(string path, string segment) =>
            path.StartsWith(segment, StringComparison.OrdinalIgnoreCase)
            && (path.Length == segment.Length || path[segment.Length] == '/');

        private IReadOnlyDictionary<string, IReadOnlyList<string>> ReadRouteHeaders(MapReader map)
        {
            var node = map.Get("headers");
            if (node is null || node.Kind == ConfigNodeKind.Null)
            {
                return RouteConfig.EmptyHeaders;
            }

            if (node.Kind != ConfigNodeKind.Map)
            {
                map.Error("headers", $"expected an object of header name -> values, got {node.Describe()}");
                return RouteConfig.EmptyHeaders;
            }

            var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, valuesNode) in node.Entries)
            {
                var at = $"{map.At("headers")}.{name}";
                if (!HeaderNamePattern().IsMatch(name))
                {
                    _errors.Add(new(at, "invalid header name"));
                    continue;
                }

                if (name.Equals("host", StringComparison.OrdinalIgnoreCase))
                {
                    _errors.Add(new(at, "cannot contain 'host' header, which must be specified in the 'hosts' attribute"));
                    continue;
                }

                if (!result.TryAdd(name, ReadHeaderValues(valuesNode, at)))
                {
                    _errors.Add(new(at, "duplicate header name"));
                }
            }

            return result;
        }

        private List<string> ReadHeaderValues(ConfigNode valuesNode, string at)
        {
            var values = new List<string>();
            if (valuesNode.Kind != ConfigNodeKind.List || valuesNode.Items.Count == 0)
            {
                _errors.Add(new(at, "expected a non-empty array of values"));
                return values;
            }

            for (var i = 0; i < valuesNode.Items.Count; i++)
            {
                var item = valuesNode.Items[i];
                if (item.Kind != ConfigNodeKind.Scalar || item.Text.Length == 0)
                {
                    _errors.Add(new($"{at}[{i}]", "expected a non-empty string"));
                    continue;
                }

                if (item.Text.StartsWith("~*", StringComparison.Ordinal)
                    && !RoutePathRegex.TryCompile(item.Text[2..], out _, out var error))
                {
                    _errors.Add(new($"{at}[{i}]", error));
                    continue;
                }

                values.Add(item.Text);
            }

            return values;
        }

        /// <summary>A foreign key as Kong writes it: <c>service: name</c> or <c>service: {id|name: ...}</c>.</summary>
        private static string? ReadReference(MapReader map, string key)
        {
            var node = map.Get(key);
            if (node is null || node.Kind == ConfigNodeKind.Null)
            {
                return null;
            }

            if (node.Kind == ConfigNodeKind.Scalar && node.Text.Length > 0)
            {
                return node.Text;
            }

            if (node.Kind == ConfigNodeKind.Map)
            {
                foreach (var (k, v) in node.Entries)
                {
                    if (k is "id" or "name" or "username" && v.Kind == ConfigNodeKind.Scalar && v.Text.Length > 0)
                    {
                        return v.Text;
                    }
                }
            }

            map.Error(key, "expected a name or an object with 'id' or 'name'");
            return null;
        }

        private void ReadUpstream(ConfigNode node, string path)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var name = map.String("name", required: true) ?? "";
            if (name.Length > 0 && !IsValidHost(name))
            {
                map.Error("name", "an upstream name must be a valid host name (services reach it through their host)");
            }

            var algorithm = map.String("algorithm") ?? "round-robin";
            if (algorithm != "round-robin")
            {
                map.Error("algorithm", algorithm is "consistent-hashing" or "least-connections" or "latency" or "sticky-sessions"
                    ? $"not supported by this gateway: only Kong's default \"round-robin\" is accepted"
                    : "expected one of: round-robin, consistent-hashing, least-connections, latency");
            }

            var hostHeader = map.String("host_header");
            if (hostHeader is not null && !IsValidHost(hostHeader))
            {
                map.Error("host_header", $"invalid host '{hostHeader}'");
            }

            var upstreamId = ReadId(map, "upstream", name);
            var targets = new List<TargetConfig>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (targetNode, targetPath) in map.List("targets"))
            {
                var target = ReadTarget(targetNode, targetPath, name);
                if (target is null)
                {
                    continue;
                }

                if (!seen.Add(target.Target))
                {
                    _errors.Add(new(targetPath + ".target", $"duplicate target '{target.Target}'"));
                }

                targets.Add(target);
            }

            var upstream = new UpstreamConfig
            {
                Id = upstreamId,
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Name = name,
                Algorithm = algorithm,
                Slots = map.Int("slots", 10_000, 10, 65_536),
                HostHeader = hostHeader,
                Healthchecks = ReadHealthchecks(map),
                Targets = targets,
                Tags = ReadTags(map),
            };
            foreach (var (field, value) in UpstreamDefaults)
            {
                map.KongDefault(field, value);
            }

            map.KongDefault("client_certificate", "null", "upstream mTLS is not implemented yet");
            _upstreams.Add(upstream);
            _paths[upstream] = path;
            map.Finish();
        }

        private static readonly (string Field, string Default)[] UpstreamDefaults =
        [
            ("hash_on", "\"none\""), ("hash_fallback", "\"none\""), ("hash_on_header", "null"),
            ("hash_fallback_header", "null"), ("hash_on_cookie", "null"), ("hash_on_cookie_path", "\"/\""),
            ("hash_on_query_arg", "null"), ("hash_fallback_query_arg", "null"), ("hash_on_uri_capture", "null"),
            ("hash_fallback_uri_capture", "null"), ("use_srv_name", "false"),
        ];

        /// <summary>The service <c>circuit_breaker</c> block (our extension); absent or null = no breaker.</summary>
        private CircuitBreakerConfig? ReadCircuitBreaker(MapReader service)
        {
            var node = service.Get("circuit_breaker");
            if (node is null || node.Kind == ConfigNodeKind.Null || MapReader.Open(node, service.At("circuit_breaker"), _errors) is not { } map)
            {
                return null;
            }

            // Bounds are Polly's: a ratio in (0, 1], at least 2 exchanges, windows from 1 s to a day.
            var breaker = new CircuitBreakerConfig
            {
                FailureRatio = map.Number("failure_ratio", 0.5, 0, 1, minExclusive: true),
                MinimumThroughput = map.Int("minimum_throughput", 20, 2, int.MaxValue),
                SamplingDuration = map.Int("sampling_duration", 30, 1, 86_400),
                BreakDuration = map.Int("break_duration", 15, 1, 86_400),
                FailureStatuses = map.IntList("failure_statuses", CircuitBreakerConfig.DefaultFailureStatuses, 100, 599),
            };
            map.Finish();
            return breaker;
        }

        /// <summary>
        /// Kong's upstream <c>healthchecks</c> tree: the active and passive fields are implemented; the rest
        /// (threshold, https_sni, headers, ...) pass only at Kong's defaults (kong/db/schema/entities/upstreams.lua).
        /// </summary>
        private HealthchecksConfig ReadHealthchecks(MapReader upstream)
        {
            var node = upstream.Get("healthchecks");
            if (node is null || node.Kind == ConfigNodeKind.Null || MapReader.Open(node, upstream.At("healthchecks"), _errors) is not { } map)
            {
                return HealthchecksConfig.Default;
            }

            map.KongDefault("threshold", "0", "a minimum healthy weight is not implemented");
            var defaults = HealthchecksConfig.Default;
            var result = new HealthchecksConfig
            {
                Active = Open(map, "active") is { } active ? ReadActive(active, defaults.Active) : defaults.Active,
                Passive = Open(map, "passive") is { } passive ? ReadPassive(passive, defaults.Passive) : defaults.Passive,
            };
            map.Finish();
            return result;
        }

        private ActiveHealthcheckConfig ReadActive(MapReader map, ActiveHealthcheckConfig defaults)
        {
            var type = map.String("type") ?? "http";
            if (type is not ("http" or "https"))
            {
                map.Error("type", type is "tcp" or "grpc" or "grpcs"
                    ? $"not supported by this gateway: active probes are \"http\" or \"https\""
                    : "expected one of: http, https, tcp, grpc, grpcs");
            }

            var httpPath = map.String("http_path") ?? "/";
            if (!httpPath.StartsWith('/'))
            {
                map.Error("http_path", "should start with: /");
            }

            map.KongDefault("https_sni", "null", "probes use the target's host name");
            map.KongDefault("https_verify_certificate", "true", "certificates are always verified");
            map.KongDefault("headers", "null", "probe headers are not implemented");
            var result = new ActiveHealthcheckConfig
            {
                Type = type,
                HttpPath = httpPath,
                Timeout = map.Number("timeout", defaults.Timeout, 0, 65_535, minExclusive: true),
                Concurrency = map.Int("concurrency", defaults.Concurrency, 1, 2_147_483_647),
                Healthy = Open(map, "healthy") is { } healthy ? ReadHealthy(healthy, defaults.Healthy, withInterval: true) : defaults.Healthy,
                Unhealthy = Open(map, "unhealthy") is { } unhealthy ? ReadUnhealthy(unhealthy, defaults.Unhealthy, withInterval: true) : defaults.Unhealthy,
            };
            map.Finish();
            return result;
        }

        private PassiveHealthcheckConfig ReadPassive(MapReader map, PassiveHealthcheckConfig defaults)
        {
            map.KongDefault("type", "\"http\"", "passive checks judge HTTP exchanges");
            var result = new PassiveHealthcheckConfig
            {
                Healthy = Open(map, "healthy") is { } healthy ? ReadHealthy(healthy, defaults.Healthy, withInterval: false) : defaults.Healthy,
                Unhealthy = Open(map, "unhealthy") is { } unhealthy ? ReadUnhealthy(unhealthy, defaults.Unhealthy, withInterval: false) : defaults.Unhealthy,
            };
            map.Finish();
            return result;
        }

        private static HealthyThresholds ReadHealthy(MapReader map, HealthyThresholds defaults, bool withInterval)
        {
            var result = new HealthyThresholds
            {
                Interval = withInterval ? map.Number("interval", 0, 0, 65_535) : 0,
                Successes = map.Int("successes", defaults.Successes, 0, 255),
                HttpStatuses = map.IntList("http_statuses", defaults.HttpStatuses, 200, 999),
            };
            map.Finish();
            return result;
        }

        private static UnhealthyThresholds ReadUnhealthy(MapReader map, UnhealthyThresholds defaults, bool withInterval)
        {
            var result = new UnhealthyThresholds
            {
                Interval = withInterval ? map.Number("interval", 0, 0, 65_535) : 0,
                HttpFailures = map.Int("http_failures", defaults.HttpFailures, 0, 255),
                TcpFailures = map.Int("tcp_failures", defaults.TcpFailures, 0, 255),
                Timeouts = map.Int("timeouts", defaults.Timeouts, 0, 255),
                HttpStatuses = map.IntList("http_statuses", defaults.HttpStatuses, 200, 999),
            };
            map.Finish();
            return result;
        }

        /// <summary>A nested object field; null when absent or null (defaults apply).</summary>
        private MapReader? Open(MapReader parent, string key)
        {
            var node = parent.Get(key);
            return node is null || node.Kind == ConfigNodeKind.Null ? null : MapReader.Open(node, parent.At(key), _errors);
        }

        private TargetConfig? ReadTarget(ConfigNode node, string path, string upstream)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return null;
            }

            var target = map.String("target", required: true);
            if (target is not null)
            {
                if (TargetAddress.TryParse(target, out var address))
                {
                    target = address.ToString();
                }
                else
                {
                    map.Error("target", $"invalid target '{target}': expected host[:port]");
                }
            }

            var result = new TargetConfig
            {
                Id = ReadId(map, "target", $"{upstream}:{target}"),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Target = target ?? "",
                Weight = map.Int("weight", 100, 0, 65_535),
                Tags = ReadTags(map),
            };
            map.Get("upstream");
            map.Finish();
            return target is null ? null : result;
        }

        private void ReadConsumer(ConfigNode node, string path)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var username = map.String("username");
            var customId = map.String("custom_id");
            if (username is null && customId is null)
            {
                _errors.Add(new(path, "at least one of these fields must be non-empty: 'custom_id', 'username'"));
            }

            var id = ReadId(map, "consumer", username ?? customId ?? path);
            var consumerKey = username ?? customId ?? id;
            var keyAuth = new List<KeyAuthCredential>();
            foreach (var (credNode, credPath) in map.List("keyauth_credentials"))
            {
                var cred = MapReader.Open(credNode, credPath, _errors);
                if (cred is null)
                {
                    continue;
                }

                var key = cred.String("key", required: true) ?? "";
                keyAuth.Add(new KeyAuthCredential
                {
                    Id = ReadId(cred, "keyauth_credential", $"{consumerKey}:{credPath}"),
                    CreatedAt = Timestamp(cred, "created_at"),
                    UpdatedAt = Timestamp(cred, "updated_at"),
                    Key = key,
                    Tags = ReadTags(cred),
                });
                cred.KongDefault("ttl", "null", "expiring keys are not implemented");
                cred.Get("consumer");
                cred.Finish();
            }

            var jwt = new List<JwtSecret>();
            foreach (var (credNode, credPath) in map.List("jwt_secrets"))
            {
                var cred = MapReader.Open(credNode, credPath, _errors);
                if (cred is null)
                {
                    continue;
                }

                var secret = new JwtSecret
                {
                    Id = ReadId(cred, "jwt_secret", $"{consumerKey}:{credPath}"),
                    CreatedAt = Timestamp(cred, "created_at"),
                    UpdatedAt = Timestamp(cred, "updated_at"),
                    Key = cred.String("key", required: true) ?? "",
                    Algorithm = cred.String("algorithm") ?? "HS256",
                    Secret = cred.String("secret"),
                    RsaPublicKey = cred.String("rsa_public_key"),
                    Tags = ReadTags(cred),
                };
                // Checked once here, so a snapshot never holds a credential the jwt plugin cannot use.
                Authentication.JwtAlgorithm.ValidateCredential(secret.Algorithm, secret.Secret, secret.RsaPublicKey, cred.Error);
                jwt.Add(secret);
                cred.Get("consumer");
                cred.Finish();
            }

            var acls = new List<AclGroup>();
            foreach (var (credNode, credPath) in map.List("acls"))
            {
                var cred = MapReader.Open(credNode, credPath, _errors);
                if (cred is null)
                {
                    continue;
                }

                var group = cred.String("group", required: true) ?? "";
                acls.Add(new AclGroup
                {
                    Id = ReadId(cred, "acl", $"{consumerKey}:{group}"),
                    CreatedAt = Timestamp(cred, "created_at"),
                    UpdatedAt = Timestamp(cred, "updated_at"),
                    Group = group,
                    Tags = ReadTags(cred),
                });
                cred.Get("consumer");
                cred.Finish();
            }

            var consumer = new ConsumerConfig
            {
                Id = id,
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Username = username,
                CustomId = customId,
                Tags = ReadTags(map),
                KeyAuthCredentials = keyAuth,
                JwtSecrets = jwt,
                Acls = acls,
            };
            _consumers.Add(consumer);
            _paths[consumer] = path;

            foreach (var (pluginNode, pluginPath) in map.List("plugins"))
            {
                ReadPlugin(pluginNode, pluginPath, service: null, route: null, consumer: consumer.Key);
            }

            map.Finish(new Dictionary<string, string>
            {
                ["basicauth_credentials"] = "the basic-auth plugin is not supported",
                ["hmacauth_credentials"] = "the hmac-auth plugin is not supported",
                ["oauth2_credentials"] = "the oauth2 plugin is not supported",
                ["mtls_auth_credentials"] = "the mtls-auth plugin is not supported",
                ["groups"] = "consumer groups are not supported",
            });
        }

        private void ReadPlugin(ConfigNode node, string path, string? service, string? route, string? consumer)
        {
            var map = MapReader.Open(node, path, _errors);
            if (map is null)
            {
                return;
            }

            var name = map.String("name", required: true) ?? "";
            if (name.Length > 0 && PluginCatalog.RejectReason(name) is { } reason)
            {
                map.Error("name", reason);
            }

            service = ReadScope(map, "service", service);
            route = ReadScope(map, "route", route);
            consumer = ReadScope(map, "consumer", consumer);

            var configNode = map.Get("config");
            var config = new System.Text.Json.Nodes.JsonObject();
            if (configNode is { Kind: ConfigNodeKind.Map })
            {
                config = (System.Text.Json.Nodes.JsonObject)configNode.ToJson()!;
            }
            else if (configNode is { Kind: not ConfigNodeKind.Null })
            {
                map.Error("config", $"expected an object, got {configNode.Describe()}");
            }

            var protocols = map.Has("protocols") ? map.StringList("protocols") : PluginConfig.DefaultProtocols;
            for (var i = 0; i < protocols.Count; i++)
            {
                if (protocols[i] is not ("grpc" or "grpcs" or "http" or "https"))
                {
                    _errors.Add(new($"{map.At("protocols")}[{i}]", "expected one of: grpc, grpcs, http, https"));
                }
            }

            var plugin = new PluginConfig
            {
                Id = ReadId(map, "plugin", $"{name}:{service}:{route}:{consumer}"),
                CreatedAt = Timestamp(map, "created_at"),
                UpdatedAt = Timestamp(map, "updated_at"),
                Name = name,
                Service = service,
                Route = route,
                Consumer = consumer,
                Enabled = map.Bool("enabled", true),
                Config = config,
                Protocols = protocols,
                Tags = ReadTags(map),
            };
            map.KongDefault("instance_name", "null", "instance names are not supported");
            map.KongDefault("ordering", "null", "dynamic plugin ordering is not supported");
            map.KongDefault("consumer_group", "null", "consumer groups are not supported");
            _plugins.Add(plugin);
            _paths[plugin] = path;
            map.Finish();
        }

        private static string? ReadScope(MapReader map, string key, string? nested)
        {
            if (nested is null)
            {
                return ReadReference(map, key);
            }

            if (map.Has(key))
            {
                map.Error(key, $"a plugin nested under a {key} may not name another {key}");
            }
            else
            {
                map.Get(key);
            }

            return nested;
        }

        /// <summary>Checks across entities: unique names and ids, references that resolve.</summary>
        private void Validate()
        {
            var serviceKeys = new HashSet<string>(StringComparer.Ordinal);
            CheckUnique(_services, s => s.Name, "name", "service");
            CheckUnique(_services, s => s.Id, "id", "service");
            foreach (var s in _services)
            {
                serviceKeys.Add(s.Id);
                if (s.Name is not null)
                {
                    serviceKeys.Add(s.Name);
                }
            }

            CheckUnique(_routes, r => r.Name, "name", "route");
            CheckUnique(_routes, r => r.Id, "id", "route");
            var routeKeys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in _routes)
            {
                routeKeys.Add(r.Id);
                if (r.Name is not null)
                {
                    routeKeys.Add(r.Name);
                }

                if (r.Service is not null && !serviceKeys.Contains(r.Service))
                {
                    _errors.Add(new(_paths[r] + ".service", $"no service named '{r.Service}'"));
                }
            }

            CheckUnique(_upstreams, u => u.Name, "name", "upstream");
            CheckUnique(_upstreams, u => u.Id, "id", "upstream");
            CheckUnique(_consumers, c => c.Username, "username", "consumer");
            CheckUnique(_consumers, c => c.CustomId, "custom_id", "consumer");
            CheckUnique(_consumers, c => c.Id, "id", "consumer");
            var consumerKeys = new HashSet<string>(StringComparer.Ordinal);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var jwtKeys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in _consumers)
            {
                consumerKeys.Add(c.Id);
                if (c.Username is not null)
                {
                    consumerKeys.Add(c.Username);
                }

                if (c.CustomId is not null)
                {
                    consumerKeys.Add(c.CustomId);
                }

                for (var i = 0; i < c.KeyAuthCredentials.Count; i++)
                {
                    // Compared in at-rest form: a plain key and its sha256: form are the same key.
                    if (c.KeyAuthCredentials[i].Key.Length > 0 && !keys.Add(Registry.CredentialProtector.AtRestKey(c.KeyAuthCredentials[i].Key)))
                    {
                        // Never echo a key: say where the duplicate is, not what it is.
                        _errors.Add(new($"{_paths[c]}.keyauth_credentials[{i}].key", "duplicate key: another credential uses the same key"));
                    }
                }

                for (var i = 0; i < c.JwtSecrets.Count; i++)
                {
                    if (c.JwtSecrets[i].Key.Length > 0 && !jwtKeys.Add(c.JwtSecrets[i].Key))
                    {
                        _errors.Add(new($"{_paths[c]}.jwt_secrets[{i}].key", $"duplicate jwt key '{c.JwtSecrets[i].Key}'"));
                    }
                }
            }

            var pluginScopes = new HashSet<(string, string?, string?, string?)>();
            var pluginContext = new PluginValidationContext(new GatewayConfig { Consumers = _consumers, Services = _services, Routes = _routes }, _errors, _warnings);
            foreach (var p in _plugins)
            {
                var at = _paths[p];
                if (PluginCatalog.Definitions.TryGetValue(p.Name, out var definition))
                {
                    if (definition.NoConsumer && p.Consumer is not null)
                    {
                        _errors.Add(new(at + ".consumer", definition.IsAuthentication
                            ? $"plugin '{p.Name}' authenticates consumers and cannot be scoped to one"
                            : $"plugin '{p.Name}' runs before authentication and cannot be scoped to a consumer"));
                    }

                    if (MapReader.Open(ConfigNode.FromJsonNode(p.Config), at + ".config", _errors) is { } pluginConfig)
                    {
                        definition.Validate(pluginConfig, pluginContext);
                    }
                }

                if (p.Service is not null && !serviceKeys.Contains(p.Service))
                {
                    _errors.Add(new(at + ".service", $"no service named '{p.Service}'"));
                }

                if (p.Route is not null && !routeKeys.Contains(p.Route))
                {
                    _errors.Add(new(at + ".route", $"no route named '{p.Route}'"));
                }

                if (p.Consumer is not null && !consumerKeys.Contains(p.Consumer))
                {
                    _errors.Add(new(at + ".consumer", $"no consumer named '{p.Consumer}'"));
                }

                if (p.Name.Length > 0 && !pluginScopes.Add((p.Name, p.Service, p.Route, p.Consumer)))
                {
                    _errors.Add(new(at, $"plugin '{p.Name}' is configured twice for the same service/route/consumer"));
                }
            }

            ValidateTls();
        }

        /// <summary>References by id or by name become the entity's key (name, else id): one spelling per entity.</summary>
        private void NormalizeReferences()
        {
            var services = KeyMap(_services, s => [s.Id, s.Name], s => s.Key);
            var routes = KeyMap(_routes, r => [r.Id, r.Name], r => r.Key);
            var consumers = KeyMap(_consumers, c => [c.Id, c.Username, c.CustomId], c => c.Key);
            for (var i = 0; i < _routes.Count; i++)
            {
                if (_routes[i].Service is { } service)
                {
                    _routes[i] = _routes[i] with { Service = services[service] };
                }
            }

            for (var i = 0; i < _plugins.Count; i++)
            {
                var p = _plugins[i];
                _plugins[i] = p with
                {
                    Service = p.Service is null ? null : services[p.Service],
                    Route = p.Route is null ? null : routes[p.Route],
                    Consumer = p.Consumer is null ? null : consumers[p.Consumer],
                    Config = PluginCatalog.Definitions.TryGetValue(p.Name, out var definition) ? definition.StoredConfig(p.Config) : p.Config,
                };
            }
        }

        private static Dictionary<string, string> KeyMap<T>(List<T> items, Func<T, string?[]> spellings, Func<T, string> key)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in items)
            {
                foreach (var spelling in spellings(item))
                {
                    if (spelling is not null)
                    {
                        map.TryAdd(spelling, key(item));
                    }
                }
            }

            return map;
        }

        private readonly HashSet<object> _duplicates = new(ReferenceEqualityComparer.Instance);

        private void CheckUnique<T>(List<T> items, Func<T, string?> key, string field, string kind)
            where T : notnull
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in items)
            {
                // An entity already reported as a duplicate is not reported again for the id derived from it.
                if (key(item) is { Length: > 0 } value && !seen.Add(value) && _duplicates.Add(item))
                {
                    _errors.Add(new($"{_paths[item]}.{field}", $"duplicate {kind} {field} '{value}'"));
                }
            }
        }
    }

    internal static bool IsServiceProtocol(string protocol) => protocol is "http" or "https" or "grpc" or "grpcs";

    internal static bool TryParseServiceUrl(string url, out string protocol, out string host, out int port, out string? path, out string error)
    {
        protocol = "http";
        host = "";
        port = 80;
        path = null;
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0 || !IsServiceProtocol(url[..scheme].ToLowerInvariant()))
        {
            error = $"invalid url '{url}': expected an absolute http, https, grpc or grpcs URL";
            return false;
        }

        protocol = url[..scheme].ToLowerInvariant();
        // Uri knows http(s) defaults only: parse as http(s) and apply grpc's ourselves.
        var asHttp = (protocol is "https" or "grpcs" ? "https" : "http") + url[scheme..];
        if (!Uri.TryCreate(asHttp, UriKind.Absolute, out var uri) || uri.UserInfo.Length > 0
            || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.Host.Length == 0)
        {
            error = $"invalid url '{url}': expected scheme://host[:port][/path] without credentials, query or fragment";
            return false;
        }

        host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost;
        port = uri.Port;
        var rawPath = asHttp[(asHttp.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var slash = rawPath.IndexOf('/');
        path = slash < 0 ? null : rawPath[slash..];
        error = "";
        return true;
    }

    internal static bool IsValidHost(string host)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out _))
        {
            return true;
        }

        return Uri.CheckHostName(host) == UriHostNameType.Dns && host.Length <= 253;
    }

    private static bool IsValidRouteHost(string host)
    {
        var hostPart = host;
        var colon = host.LastIndexOf(':');
        if (colon > 0 && !host.EndsWith(']'))
        {
            if (!int.TryParse(host.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            {
                return false;
            }

            hostPart = host[..colon];
        }

        var star = hostPart.IndexOf('*');
        if (star < 0)
        {
            return IsValidHost(hostPart);
        }

        if (hostPart.IndexOf('*', star + 1) >= 0)
        {
            return false;
        }

        if (hostPart.StartsWith("*.", StringComparison.Ordinal))
        {
            return IsValidHost(hostPart[2..]);
        }

        return hostPart.EndsWith(".*", StringComparison.Ordinal) && IsValidHost(hostPart[..^2]);
    }

    [GeneratedRegex("^[A-Za-z0-9.\\-_~]{1,128}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Z]+$")]
    private static partial Regex MethodPattern();

    [GeneratedRegex("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")]
    private static partial Regex HeaderNamePattern();
}
