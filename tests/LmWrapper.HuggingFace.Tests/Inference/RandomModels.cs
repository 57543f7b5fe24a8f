using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>Tiny random models of every architecture, written once per test run into a temporary folder.</summary>
internal static class RandomModels
{
    private static readonly Lazy<string> Root = new(() =>
    {
        // Removed when the test process exits, so that runs do not pile up folders in the temporary directory.
        string root = Directory.CreateTempSubdirectory("lmw-models-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a file still open on a platform that refuses to delete it stays behind.
            }
        };
        return root;
    });
    private static readonly Dictionary<string, string> Written = [];
    private static readonly Lock Gate = new();

    /// <summary>The named architectures the engine supports, each a small model with a real tokenizer (llama2's or GPT-2's).</summary>
    public static readonly IReadOnlyDictionary<string, RandomModelSpec> Specs = new Dictionary<string, RandomModelSpec>
    {
        ["gpt2"] = new() { ModelType = "gpt2", VocabSize = 50257, HiddenSize = 32, NumHeads = 4, NumLayers = 2, IntermediateSize = 128, MaxPositions = 64, BosTokenId = 50256, EosTokenId = 50256, TokenizerFolder = Tokenizer("gpt2"), Seed = 11 },
        ["llama"] = new() { ModelType = "llama", VocabSize = 32000, HiddenSize = 32, NumHeads = 4, NumKvHeads = 2, NumLayers = 2, IntermediateSize = 48, MaxPositions = 64, TieWordEmbeddings = false, TokenizerFolder = Tokenizer("llama2"), Seed = 12 },
        ["llama-bias-headdim"] = new() { ModelType = "llama", VocabSize = 32000, HiddenSize = 32, NumHeads = 4, NumKvHeads = 1, HeadDim = 12, AttentionBias = true, NumLayers = 2, IntermediateSize = 40, MaxPositions = 64, TokenizerFolder = Tokenizer("llama2"), Seed = 13 },
        ["llama-linear"] = new() { ModelType = "llama", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, RopeScalingJson = """{"rope_type":"linear","factor":2.0}""", TokenizerFolder = Tokenizer("llama2"), Seed = 14 },
        ["llama-dynamic"] = new() { ModelType = "llama", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, RopeScalingJson = """{"type":"dynamic","factor":2.0}""", TokenizerFolder = Tokenizer("llama2"), Seed = 15 },
        ["llama-llama3"] = new() { ModelType = "llama", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, HeadDim = 16, RopeTheta = 500000, RopeScalingJson = """{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8}""", TokenizerFolder = Tokenizer("llama2"), Seed = 16 },
        ["mistral"] = new() { ModelType = "mistral", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, SlidingWindow = 4, TokenizerFolder = Tokenizer("llama2"), Seed = 17 },
        ["qwen2"] = new() { ModelType = "qwen2", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, SlidingWindow = 5, MaxWindowLayers = 1, TokenizerFolder = Tokenizer("llama2"), Seed = 18 },
        ["qwen3"] = new() { ModelType = "qwen3", VocabSize = 32000, NumLayers = 2, MaxPositions = 64, HeadDim = 16, TieWordEmbeddings = false, TokenizerFolder = Tokenizer("llama2"), Seed = 19 },
    };

    public static IEnumerable<string> Names => Specs.Keys;

    /// <summary>The folder of a named model (written on first use).</summary>
    public static string Folder(string name) => Folder(name, Specs[name]);

    /// <summary>The folder of a model with the given spec, written on first use under <paramref name="name"/>.</summary>
    public static string Folder(string name, RandomModelSpec spec)
    {
        lock (Gate)
        {
            if (!Written.TryGetValue(name, out var folder))
            {
                folder = RandomModelWriter.Write(Path.Combine(Root.Value, name), spec);
                Written[name] = folder;
            }

            return folder;
        }
    }

    /// <summary>A model loaded with the cache off by default and two threads.</summary>
    public static HuggingFaceLm Load(string folder, LanguageModelOptions? modelOptions = null) =>
        HuggingFaceLm.Get(folder, new HuggingFaceLmOptions { Threads = 2, ModelOptions = modelOptions ?? new LanguageModelOptions { CacheByDefault = false } });

    /// <summary>Writes a copy of a model with every weight widened to float32 (the same values as the original's).</summary>
    public static string ToFloat32(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.EndsWith(".index.json", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        using var checkpoint = SafetensorsCheckpoint.Open(source);
        var writer = new SafetensorsWriter();
        foreach (var name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
        {
            var info = checkpoint.GetTensor(name);
            writer.Add(name, checkpoint.ReadAsFloat32(name), [.. info.Shape]);
        }

        writer.Save(Path.Combine(target, SafetensorsCheckpoint.SingleFileName));
        return target;
    }

    private static string Tokenizer(string name) => HfFormatsFixtures.Path("tokenizers", name);
}
