using System.Globalization;
using System.Text.Json;
using LmWrapper.Benchmarks;
using LmWrapper.Benchmarks.Suites;

// Usage: dotnet run -c Release --project benchmarks/LmWrapper.Benchmarks -- <suite> [--json FILE] [suite options]
if (args.Length == 2 && args[0] == FakeServerProcess.Command)
{
    return await FakeServerProcess.ServeAsync(args[1]); // the batching suite's server, in a process of its own
}

if (args.Length > 0 && args[0] == InferenceSuite.MemoryProbeCommand)
{
    return InferenceSuite.MemoryProbe(args[1..]); // the inference suite's peak-memory measurement, in a process of its own
}

IBenchmarkSuite[] suites = [new CacheSuite(), new TokenizersSuite(), new OpenAiSuite(), new BatchingSuite(), new InferenceSuite(), new KernelsSuite(), new ReliabilitySuite(), new JsonDecodingSuite()];

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: LmWrapper.Benchmarks <suite> [--json FILE] [options]");
    foreach (var s in suites)
    {
        Console.WriteLine($"  {s.Name,-12} {s.Description}");
    }

    return args.Length == 0 ? 2 : 0;
}

var suite = suites.FirstOrDefault(s => s.Name == args[0]);
if (suite is null)
{
    Console.Error.WriteLine($"unknown suite '{args[0]}'; known: {string.Join(", ", suites.Select(s => s.Name))}");
    return 2;
}

string? jsonPath = null;
var rest = new List<string>();
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--json" && i + 1 < args.Length)
    {
        jsonPath = args[++i];
    }
    else
    {
        rest.Add(args[i]);
    }
}

var results = await suite.RunAsync(rest, CancellationToken.None);
Console.WriteLine();
Console.WriteLine($"{"metric",-48} {"value",16}");
foreach (var (name, value) in results)
{
    Console.WriteLine($"{name,-48} {value.ToString("G6", CultureInfo.InvariantCulture),16}");
}

if (jsonPath is not null)
{
    var doc = new Dictionary<string, object> { ["suite"] = suite.Name, ["results"] = results };
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {jsonPath}");
}

return 0;
