using System.Globalization;
using LmWrapper.Reliability;

// The child process of the reliability runs (they start it, kill it at seeded points and start it again):
//   predict <openai|claude> <asap|batch> <baseUrl> <apiKey> <cacheFile> <workDir> <first> <count> <outFile>
//       PredictMany of "What is i+1?" (first <= i < first + count); appends "i" to outFile as each right answer is returned; "done" at the end.
//   cache-worker <cacheFile> <seed> <threads> <operations> <outFile>
//       threads of mixed reads, writes, removals and evictions on one shared cache file; "ok" at the end.
// Exit code 0 only when every answer was right and nothing failed.
if (args.Length > 0 && args[0] == "predict" && args.Length == 10)
{
    return await ChildPredict.RunAsync(
        args[1], args[2], args[3], args[4], args[5], args[6], int.Parse(args[7], CultureInfo.InvariantCulture), int.Parse(args[8], CultureInfo.InvariantCulture), args[9]);
}

if (args.Length > 0 && args[0] == "cache-worker" && args.Length == 6)
{
    return CacheWorker.Run(
        args[1],
        int.Parse(args[2], CultureInfo.InvariantCulture),
        int.Parse(args[3], CultureInfo.InvariantCulture),
        int.Parse(args[4], CultureInfo.InvariantCulture),
        args[5]);
}

if (args.Length > 0 && args[0] == "fuzz" && args.Length == 4)
{
    int n = int.Parse(args[2], CultureInfo.InvariantCulture), seed = int.Parse(args[3], CultureInfo.InvariantCulture);
    var r = args[1] switch
    {
        "safetensors" => Fuzzers.Safetensors(n, seed),
        "tokenizer.json" => Fuzzers.TokenizerJson(n, seed),
        _ => Fuzzers.Jinja(n, seed),
    };
    Console.WriteLine($"{r.Target} (seed {r.Seed}): {r.Inputs} inputs, {r.Accepted} accepted, {r.Refused} refused, {r.Undocumented} undocumented, slowest {r.SlowestMs} ms");
    foreach (var e in r.Examples)
    {
        Console.WriteLine("  " + e);
    }

    return r.Undocumented == 0 ? 0 : 1;
}

Console.Error.WriteLine("usage: predict <openai|claude> <asap|batch> <baseUrl> <apiKey> <cacheFile> <workDir> <first> <count> <outFile>");
Console.Error.WriteLine("       cache-worker <cacheFile> <seed> <threads> <operations> <outFile>");
return 2;
