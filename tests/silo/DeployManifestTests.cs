using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Curation.Grains.Hosting;
using Curation.Grains.Placement;
using Curation.Silo.Hosting;
using Curation.Testing;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace Curation.Silo.Tests;

/// <summary>
/// What cannot run here (containers, Kubernetes) is checked statically: every manifest under deploy/k8s parses and has
/// what its kind needs, and every Curation__… variable in the manifests, the launcher and the Dockerfile names a real
/// configuration key (an options property, a silo role entry, or a key of appsettings.json) with a value it accepts.
/// </summary>
public sealed partial class DeployManifestTests
{
    private static readonly string Root = RepositoryRoot.Get();
    private static readonly string K8s = Path.Combine(Root, "deploy", "k8s");

    /// <summary>Configuration sections bound to options classes, as the silo host binds them.</summary>
    private static readonly string[] Kinds =
        ["Namespace", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "Kustomization"];

    private static List<(string File, YamlMappingNode Doc)> Documents()
    {
        var docs = new List<(string, YamlMappingNode)>();
        foreach (var file in Directory.GetFiles(K8s, "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader);
            foreach (var document in stream.Documents)
            {
                var root = Assert.IsAssignableFrom<YamlMappingNode>(document.RootNode);
                docs.Add((Path.GetFileName(file), root));
            }
        }
        return docs;
    }

    [Fact]
    public void Every_manifest_parses_and_has_what_its_kind_needs()
    {
        var docs = Documents();
        Assert.True(docs.Count >= 9, $"expected the namespace, config, secret, RBAC, two deployments, a service and the kustomization; got {docs.Count}");
        foreach (var (file, doc) in docs)
        {
            var kind = Text(doc, "kind");
            Assert.True(Kinds.Contains(kind), $"{file}: unexpected kind '{kind}'");
            Assert.False(string.IsNullOrEmpty(Text(doc, "apiVersion")), $"{file}: {kind} without apiVersion");
            if (kind == "Kustomization")
            {
                var listed = Seq(doc, "resources").Select(n => ((YamlScalarNode)n).Value!).ToHashSet();
                var present = Directory.GetFiles(K8s, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").ToHashSet();
                Assert.Equal(present.Order(), listed.Order());
                continue;
            }
            Assert.False(string.IsNullOrEmpty(Text(doc, "metadata", "name")), $"{file}: {kind} without metadata.name");
            if (kind != "Namespace") Assert.Equal("curation", Text(doc, "metadata", "namespace"));
        }

        var byKind = docs.ToLookup(d => Text(d.Doc, "kind"), d => d.Doc);
        var serviceAccounts = byKind["ServiceAccount"].Select(d => Text(d, "metadata", "name")).ToHashSet();
        var configMaps = byKind["ConfigMap"].Select(d => Text(d, "metadata", "name")).ToHashSet();
        var secrets = byKind["Secret"].Select(d => Text(d, "metadata", "name")).ToHashSet();

        // Orleans' Kubernetes hosting reads, watches and deletes pods of its namespace.
        var role = Assert.Single(byKind["Role"]);
        var rule = Assert.Single(Seq(role, "rules").Cast<YamlMappingNode>(), r => Seq(r, "resources").Any(x => x.ToString() == "pods"));
        foreach (var verb in new[] { "get", "list", "watch", "delete" })
            Assert.Contains(verb, Seq(rule, "verbs").Select(v => v.ToString()));
        var binding = Assert.Single(byKind["RoleBinding"]);
        Assert.Equal(Text(role, "metadata", "name"), Text(binding, "roleRef", "name"));
        Assert.Contains(Text((YamlMappingNode)Seq(binding, "subjects").Single(), "name"), serviceAccounts);

        var deployments = byKind["Deployment"].ToList();
        Assert.Equal(2, deployments.Count);
        var podLabels = new List<Dictionary<string, string>>();
        foreach (var deployment in deployments)
        {
            var name = Text(deployment, "metadata", "name");
            var labels = Map(deployment, "spec", "template", "metadata", "labels");
            podLabels.Add(labels);
            foreach (var (key, value) in Map(deployment, "spec", "selector", "matchLabels"))
                Assert.True(labels.GetValueOrDefault(key) == value, $"{name}: selector {key}={value} does not match the pod labels");
            Assert.True(labels.ContainsKey("orleans/serviceId") && labels.ContainsKey("orleans/clusterId"), $"{name}: pods need the orleans/serviceId and orleans/clusterId labels");
            Assert.Contains(Text(deployment, "spec", "template", "spec", "serviceAccountName"), serviceAccounts);

            var container = (YamlMappingNode)Assert.Single(Seq(deployment, "spec", "template", "spec", "containers"));
            Assert.False(string.IsNullOrEmpty(Text(container, "image")), $"{name}: no image");
            var env = Seq(container, "env").Cast<YamlMappingNode>().ToDictionary(e => Text(e, "name"), e => e);
            foreach (var (variable, field) in new[]
                     {
                         ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"), ("POD_IP", "status.podIP"),
                         ("ORLEANS_SERVICE_ID", "metadata.labels['orleans/serviceId']"), ("ORLEANS_CLUSTER_ID", "metadata.labels['orleans/clusterId']"),
                     })
                Assert.True(env.TryGetValue(variable, out var entry) && Text(entry, "valueFrom", "fieldRef", "fieldPath") == field,
                    $"{name}: {variable} must come from the downward API ({field})");
            foreach (var source in Seq(container, "envFrom").Cast<YamlMappingNode>())
            {
                if (Has(source, "configMapRef")) Assert.Contains(Text(source, "configMapRef", "name"), configMaps);
                if (Has(source, "secretRef")) Assert.Contains(Text(source, "secretRef", "name"), secrets);
            }
            var ports = Seq(container, "ports").Cast<YamlMappingNode>().ToDictionary(p => Text(p, "name"), p => Text(p, "containerPort"));
            Assert.Equal("11111", ports["silo"]);
            Assert.Equal("30000", ports["gateway"]);
            Assert.Equal("8080", ports["http"]);
            foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
                Assert.True(Has(container, probe), $"{name}: no {probe}");
            Assert.Equal("/healthz", Text(container, "readinessProbe", "httpGet", "path"));
            foreach (var bound in new[] { "requests", "limits" })
                foreach (var resource in new[] { "cpu", "memory" })
                    Assert.False(string.IsNullOrEmpty(Text(container, "resources", bound, resource)), $"{name}: no resources.{bound}.{resource}");

            var roles = env.Where(e => e.Key.StartsWith("Curation__Silo__Roles__", StringComparison.Ordinal))
                .Select(e => Text(e.Value, "value")).ToHashSet();
            if (roles.Contains(SiloRoles.Gpu))
            {
                Assert.Contains(SiloRoles.Embed, roles);
                Assert.Equal("1", Text(container, "resources", "limits", "nvidia.com/gpu"));
                Assert.Equal("Cuda", Text(env["Curation__Embedding__Provider"], "value"));
                Assert.True(Has(deployment, "spec", "template", "spec", "tolerations"), $"{name}: GPU pods need the GPU nodes' toleration");
                Assert.True(Has(deployment, "spec", "template", "spec", "nodeSelector"), $"{name}: GPU pods need a GPU node selector");
            }
            else
            {
                Assert.Equal(new HashSet<string> { SiloRoles.Cpu, "" }, roles);
            }
        }

        var service = Assert.Single(byKind["Service"]);
        var selector = Map(service, "spec", "selector");
        Assert.All(podLabels, labels => Assert.All(selector, s => Assert.Equal(s.Value, labels.GetValueOrDefault(s.Key))));
        Assert.Contains("http", Seq(service, "spec", "ports").Cast<YamlMappingNode>().Select(p => Text(p, "targetPort")));
    }

    [Fact]
    public void Every_Curation_variable_in_the_manifests_launcher_and_Dockerfile_names_an_existing_key_with_a_valid_value()
    {
        var appsettings = Flatten(JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "appsettings.json"))).RootElement, "");
        var checkedNames = new SortedSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();

        void Check(string where, string name, string? value)
        {
            checkedNames.Add(name);
            var key = name.Replace("__", ":", StringComparison.Ordinal);
            if (Resolve(key) is not { } type)
            {
                if (!appsettings.ContainsKey(key)) problems.Add($"{where}: {name} names no configuration key");
                return;
            }
            if (value is not null && !Accepts(type, value)) problems.Add($"{where}: {name}='{value}' is not a valid {type.Name}");
        }

        // Manifests: env entries with literal values, ConfigMap data and Secret stringData keys.
        foreach (var (file, doc) in Documents())
        {
            var kind = Text(doc, "kind");
            if (kind == "ConfigMap") foreach (var (k, v) in Map(doc, "data")) if (k.StartsWith("Curation__", StringComparison.Ordinal)) Check(file, k, v);
            if (kind == "Secret") foreach (var (k, _) in Map(doc, "stringData")) Check(file, k, null);
            if (kind == "Deployment")
                foreach (var container in Seq(doc, "spec", "template", "spec", "containers").Cast<YamlMappingNode>())
                    foreach (var entry in Seq(container, "env").Cast<YamlMappingNode>())
                        if (Text(entry, "name") is var n && n.StartsWith("Curation__", StringComparison.Ordinal))
                            Check(file, n, Has(entry, "value") ? Text(entry, "value") : null);
        }
        // Whatever else mentions a variable (the launcher sets them from shell variables; the Dockerfile's ENV lines).
        foreach (var file in Directory.GetFiles(K8s, "*.yaml").Append(Path.Combine(Root, "deploy", "local-cluster.sh")).Append(Path.Combine(Root, "deploy", "Dockerfile")))
            foreach (Match match in VariableName().Matches(File.ReadAllText(file)))
                Check(Path.GetFileName(file), match.Groups["name"].Value, match.Groups["value"].Success && !match.Groups["value"].Value.Contains('$') ? match.Groups["value"].Value : null);

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // The launcher and manifests configure every part: cluster, store, roles, embedding, execution.
        foreach (var section in new[] { "Curation__Cluster__", "Curation__Store__", "Curation__Silo__Roles__", "Curation__Embedding__", "Curation__Execution__" })
            Assert.Contains(checkedNames, n => n.StartsWith(section, StringComparison.Ordinal));
        Assert.Contains("Curation__Cluster__Kubernetes", checkedNames);
        Assert.Contains("Curation__Cluster__Clustering", checkedNames);
    }

    [Fact]
    public void Unknown_or_mistyped_variables_are_caught_by_the_check()
    {
        Assert.Null(Resolve("Curation:Cluster:Clustring"));
        Assert.Null(Resolve("Curation:Store:Resilience:MaxRetries"));
        Assert.Equal(typeof(int), Resolve("Curation:Store:Resilience:MaxRetryAttempts"));
        Assert.Equal(typeof(string), Resolve("Curation:Silo:Roles:3"));
        Assert.False(Accepts(typeof(ClusteringKind), "Kubernetes"));
        Assert.True(Accepts(typeof(ClusteringKind), "AzureTable"));
        Assert.True(Accepts(typeof(TimeSpan?), "00:00:10"));
        Assert.False(Accepts(typeof(int), "four"));
        Assert.Equal(typeof(TimeSpan), Resolve("Curation:Silo:ShutdownTimeout"));
        Assert.Equal(typeof(string), Resolve("Curation:Api:Keys:0:Key"));
        Assert.Null(Resolve("Curation:Api:Keys:first:Key"));

        // The shipped appsettings.json names only keys the silo reads (the silo refuses to start otherwise).
        var shipped = new ConfigurationBuilder().AddJsonFile(Path.Combine(Root, "appsettings.json")).Build();
        Assert.Empty(ConfigurationKeys.Unknown(shipped));
        var wrong = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Curation:Store:Resilience:MaxRetries"] = "3", ["Curation:Cluster:Clustring"] = "Redis", ["Curation:Limits:MaxSpecBytes"] = "10",
        }).Build();
        Assert.Equal<string>(
        [
            "Curation:Cluster:Clustring: 'Clustring' is not a setting the silo reads (Curation:Cluster has AdvertisedAddress, ClusterId, " +
            "Clustering, ConnectionString, GatewayPort, Kubernetes, MissedProbesLimit, ProbeTimeout, ServiceId, SiloPort); did you mean " +
            "Curation:Cluster:Clustering?",
            "Curation:Store:Resilience:MaxRetries: 'MaxRetries' is not a setting the silo reads (Curation:Store:Resilience has AttemptTimeout, " +
            "BaseDelay, MaxDelay, MaxRetryAttempts)",
        ], ConfigurationKeys.Unknown(wrong).ToArray());
    }

    [Fact]
    public void The_launcher_is_valid_bash()
    {
        var script = Path.Combine(Root, "deploy", "local-cluster.sh");
        var (code, output) = Run("bash", "-n", script);
        Assert.True(code == 0, output);
        if (Which("shellcheck") is { } shellcheck)
        {
            (code, output) = Run(shellcheck, "-S", "warning", script);
            Assert.True(code == 0, output);
        }
        (code, output) = Run("bash", script, "--help");
        Assert.True(code == 0, output);
        Assert.Contains("start N", output);
    }

    /// <summary>The type a configuration key binds to, or null when the silo reads no such key (the check the silo makes at start).</summary>
    private static Type? Resolve(string key) => ConfigurationKeys.Resolve(key);

    /// <summary>Whether the configuration binder can turn this text into the type.</summary>
    private static bool Accepts(Type type, string value)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string)) return true;
        if (target.IsEnum) return Enum.TryParse(target, value, ignoreCase: true, out var parsed) && Enum.IsDefined(target, parsed!);
        try
        {
            return TypeDescriptor.GetConverter(target).ConvertFromInvariantString(value) is not null;
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException || e.InnerException is FormatException)
        {
            return false;
        }
    }

    private static Dictionary<string, string?> Flatten(JsonElement element, string prefix)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                    foreach (var pair in Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}:{property.Name}"))
                        keys[pair.Key] = pair.Value;
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                    foreach (var pair in Flatten(item, $"{prefix}:{i++}"))
                        keys[pair.Key] = pair.Value;
                break;
            default:
                keys[prefix] = element.ToString();
                break;
        }
        return keys;
    }

    private static YamlNode? Node(YamlNode node, params string[] path)
    {
        foreach (var step in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(step), out var next)) return null;
            node = next;
        }
        return node;
    }

    private static bool Has(YamlNode node, params string[] path) => Node(node, path) is not null;

    private static string Text(YamlNode node, params string[] path) => (Node(node, path) as YamlScalarNode)?.Value ?? "";

    private static IEnumerable<YamlNode> Seq(YamlNode node, params string[] path) => (Node(node, path) as YamlSequenceNode)?.Children ?? [];

    private static Dictionary<string, string> Map(YamlNode node, params string[] path) =>
        (Node(node, path) as YamlMappingNode)?.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => (c.Value as YamlScalarNode)?.Value ?? "")
        ?? [];

    private static (int Code, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), $"{file} {string.Join(' ', arguments)} did not finish");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);

    /// <summary>Curation__… names, with the literal value when an assignment follows (NAME=value or NAME: value).</summary>
    [GeneratedRegex(@"(?<name>Curation__[A-Za-z0-9_]*[A-Za-z0-9])(?:=(?<value>[^\s""';,\\]*)|:\s+""?(?<value>[^\s""]*))?")]
    private static partial Regex VariableName();
}
