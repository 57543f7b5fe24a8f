using System.Text;
using LmWrapper.HuggingFace.Hub;
using LmWrapper.HuggingFace.Safetensors;
using LmWrapper.Testing.HuggingFace;

namespace LmWrapper.HuggingFace.Tests.Hub;

internal sealed class ListProgress<T> : IProgress<T>
{
    private readonly List<T> _items = [];

    public List<T> Items
    {
        get
        {
            lock (_items) return _items.ToList();
        }
    }

    public void Report(T value)
    {
        lock (_items) _items.Add(value);
    }
}

internal static class HubTestKit
{
    public const string Config = """{"model_type": "gpt2", "n_embd": 8, "vocab_size": 16}""";

    public static byte[] Weights(int seed = 1, int floats = 60_000)
    {
        var rng = new Random(seed);
        var values = new float[floats];
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble();
        return new SafetensorsWriter().AddMetadata("format", "pt").Add("w", values, [floats]).ToArray();
    }

    public static FakeHubRepository AddTinyModel(FakeHuggingFaceHub hub, string repoId, bool gated = false, int seed = 1)
    {
        return hub.AddRepository(repoId, gated: gated)
            .AddFile("config.json", Config)
            .AddFile("generation_config.json", """{"max_length": 20}""")
            .AddFile("tokenizer_config.json", """{"eos_token": "</s>", "chat_template": "{{ messages[0].content }}"}""")
            .AddFile("README.md", "# tiny")
            .AddFile("model.safetensors", Weights(seed));
    }

    public static HuggingFaceHubOptions Options(FakeHuggingFaceHub hub, TempDir cache, string? token = null, bool offline = false) => new()
    {
        Endpoint = hub.Endpoint,
        CacheDirectory = cache.Path,
        Offline = offline,
        Token = token,
        RetryDelay = TimeSpan.FromMilliseconds(10),
    };

    public static string Text(string path) => File.ReadAllText(path, Encoding.UTF8);
}
