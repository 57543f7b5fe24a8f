// The quickstart: a real (tiny) language model that ships with the repository — stories260K, a Llama trained on
// TinyStories — run in-process by LmWrapper, offline. The calls are the ones you make against OpenAI or Claude: swap
// the model line for OpenAiLm.Get(...) or ClaudeLm.Get(...) and nothing else changes.
using System.Globalization;
using LmWrapper;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;

string cachePath = args.Length > 0 ? args[0] : LmCache.ResolveProjectCachePath();
using var cache = LmCache.Open(cachePath);
string folder = Path.Combine(AppContext.BaseDirectory, "models", "stories260K");
// Caching is opt-in (as in the Python original): CacheByDefault turns it on for every prompt of this model.
using var lm = HuggingFaceLm.Get(folder, new HuggingFaceLmOptions { ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true } });
Console.WriteLine($"Model: {lm.ModelType}, {lm.NumLayers} layers, context {lm.TokenLimit} tokens ({lm.ModelIdentity})");

// A story continuation, greedy (temperature 0), with the logprob of every generated token.
var prompt = new LmPrompt("Once upon a time") { MaxTokens = 24, Temperature = 0 };
var story = lm.Predict(prompt);
Console.WriteLine($"Story:   \"{prompt.Text}{story.CompletionText}\" (cached: {story.WasCached})");
Console.WriteLine("Tokens:  " + string.Join(" ", story.CompletionTokens.Zip(story.CompletionLogprobs).Take(6)
    .Select(t => string.Create(CultureInfo.InvariantCulture, $"[{t.First}] {t.Second:F2}"))) + " …");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Mean logprob: {story.CompletionMeanLogprob():F3}"));

// The same prompt again: answered from the cache, nothing recomputed.
var again = lm.Predict(prompt);
Console.WriteLine($"Again:   same text: {again.CompletionText == story.CompletionText} (cached: {again.WasCached})");

// Many prompts at once: batched forward passes, answers in input order.
string[] starts = ["Lily and Ben", "The little dog", "One day"];
foreach (var (start, p) in starts.Zip(lm.PredictMany(starts.Select(s => new LmPrompt(s) { MaxTokens = 12, Temperature = 0 }))))
{
    Console.WriteLine($"Many:    \"{start}{p.CompletionText}\" (cached: {p.WasCached})");
}

// Sampling: a seed makes it reproducible.
var sampled = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 16, Temperature = 0.8, Seed = 42 });
Console.WriteLine($"Sampled: \"Once upon a time{sampled.CompletionText}\"");

var stats = cache.GetStats();
Console.WriteLine($"Cache {cache.FilePath}: {stats.Entries} entries, {stats.FileBytes} bytes, {stats.Hits} hits, {stats.Misses} misses");
