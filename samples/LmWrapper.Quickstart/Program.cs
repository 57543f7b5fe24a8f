// The quickstart: the same calls you would make against OpenAI or a local model, run on the built-in MockLm so it
// works offline. Swap the model line for OpenAiLm.Get(...) or HuggingFaceLm.Get(...) and nothing else changes.
using LmWrapper;
using LmWrapper.Caching;

string cachePath = args.Length > 0 ? args[0] : LmCache.ResolveProjectCachePath();
using var cache = LmCache.Open(cachePath);
using var lm = new MockLm(
    p => p.GetTextAsStringDefaultForm().Contains("2+2", StringComparison.Ordinal) ? "4" : "Paris",
    name: "quickstart",
    options: new LanguageModelOptions { Cache = cache });

var first = lm.Predict("What is 2+2?");
Console.WriteLine($"Predict(\"What is 2+2?\") -> \"{first.CompletionText}\" (cached: {first.WasCached})");

var again = lm.Predict("What is 2+2?");
Console.WriteLine($"Again                  -> \"{again.CompletionText}\" (cached: {again.WasCached})");

var chat = lm.Predict(new LmPrompt([LmChatTurn.System("Answer in one word."), LmChatTurn.User("Capital of France?")]) { MaxTokens = 5 });
Console.WriteLine($"Chat                   -> \"{chat.CompletionText}\"");

var many = lm.PredictMany([new LmPrompt("Capital of France?") { MaxTokens = 5 }, new LmPrompt("What is 2+2?") { MaxTokens = 100 }], CompletionWindow.BatchAny);
Console.WriteLine($"PredictMany            -> {string.Join(", ", many.Select(p => $"\"{p.CompletionText}\" (cached: {p.WasCached})"))}");

var stats = cache.GetStats();
Console.WriteLine($"Cache {cache.FilePath}: {stats.Entries} entries, {stats.FileBytes} bytes, {stats.Hits} hits, {stats.Misses} misses");
