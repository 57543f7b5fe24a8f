using LmWrapper;
using LmWrapper.Caching;

// write <cacheFile> <first> <count> <padding>: predicts prompts "p<first>"… through MockLm with that cache and prints
//   "stored <i>" after each prediction is returned (so it is committed), then "done".
// key <model> <text>: prints the cache key of a prompt (to compare across processes).
switch (args[0])
{
    case "write":
    {
        using var cache = LmCache.Open(args[1]);
        int first = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        int count = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
        string padding = new('x', int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
        using var lm = new MockLm(p => p.Text + padding, name: "stress", options: new LanguageModelOptions { CacheByDefault = true, Cache = cache });
        for (int i = first; i < first + count; i++)
        {
            var p = lm.Predict(new LmPrompt($"p{i}") { MaxTokens = 5 });
            if (p.CompletionText != $"p{i}" + padding)
            {
                Console.Error.WriteLine($"wrong answer for p{i}");
                return 1;
            }

            Console.WriteLine($"stored {i}");
        }

        Console.WriteLine("done");
        return 0;
    }

    case "key":
        Console.WriteLine(CacheKey.Compute(args[1], new LmPrompt(args[2]) { MaxTokens = 10 }));
        return 0;

    default:
        Console.Error.WriteLine("usage: write <file> <first> <count> <padding> | key <model> <text>");
        return 2;
}
