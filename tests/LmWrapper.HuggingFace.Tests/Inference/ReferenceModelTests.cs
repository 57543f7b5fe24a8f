using System.Text.Json;
using LmWrapper.HuggingFace.Generation;
using LmWrapper.HuggingFace.Kernels;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>The engine against references nobody here wrote: llama2.c, onnxruntime-genai and a double-precision forward.</summary>
public sealed class ReferenceModelTests
{
    private static HuggingFaceLm Load(string name, int threads = 2) =>
        HuggingFaceLm.Get(HfFormatsFixtures.Path("models", name), new HuggingFaceLmOptions
        {
            Threads = threads,
            ModelOptions = new LanguageModelOptions { CacheByDefault = false },
        });

    [Fact]
    public void Stories260KGreedyFromBosMatchesLlama2c()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "stories260K", "expected_greedy.json")));
        string expected = doc.RootElement.GetProperty("expected_text").GetString()!;
        using var lm = Load("stories260K");
        var p = lm.Predict(new LmPrompt("") { MaxTokens = 200, Temperature = 0 });
        Assert.Equal(expected, p.CompletionText);
        Assert.Equal(200, p.CompletionTokens.Count);
        Assert.Equal("length", p.FinishReason);
        Assert.Equal(p.CompletionText, string.Concat(p.CompletionTokens));
    }

    [Fact]
    public void Stories260KPromptCasesMatchLlama2c()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "stories260K", "expected_prompts.json")));
        using var lm = Load("stories260K");
        int cases = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            string prompt = c.GetProperty("prompt").GetString()!;
            int[] promptIds = [.. c.GetProperty("prompt_ids_with_bos").EnumerateArray().Select(e => e.GetInt32())];
            int total = c.GetProperty("total_len_with_bos").GetInt32();
            Assert.Equal(promptIds, lm.Encode(new LmPrompt(prompt)).Ids);
            var p = lm.Predict(new LmPrompt(prompt) { MaxTokens = total - promptIds.Length, Temperature = 0 });
            Assert.Equal(c.GetProperty("expected_text").GetString(), prompt + p.CompletionText);
            cases++;
        }

        Assert.Equal(4, cases);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TinyRandomGpt2GreedyIdsMatchOnnxRuntimeGenAi(int caseIndex)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "tiny-random-gpt2", "expected_greedy.json")));
        var c = doc.RootElement.GetProperty("cases")[caseIndex];
        int[] input = [.. c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32())];
        int[] expected = [.. c.GetProperty("expected_ids").EnumerateArray().Select(e => e.GetInt32())];
        using var engine = Engine.Load(HfFormatsFixtures.Path("models", "tiny-random-gpt2"));
        var result = engine.Generator.Run([new GenerationRequest { PromptIds = input, MaxNewTokens = expected.Length - input.Length, NumSamples = 1 }], CancellationToken.None);
        Assert.Equal(expected, input.Concat(result[0].Samples[0].Tokens).ToArray());
    }

    [Fact]
    public void TinyRandomGpt2LastLogitsMatchTheReference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "tiny-random-gpt2", "expected_greedy.json")));
        double[] expected = [.. doc.RootElement.GetProperty("logits_last_pos_for_[0,0,195,731]_first8").EnumerateArray().Select(e => e.GetDouble())];
        using var engine = Engine.Load(HfFormatsFixtures.Path("models", "tiny-random-gpt2"));
        var logits = engine.Logits([0, 0, 195, 731]);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], logits[^1][i], 1e-4);
        }
    }

    public static TheoryData<int> TinyCases()
    {
        var data = new TheoryData<int>();
        int n = File.ReadLines(HfFormatsFixtures.Path("models", "tiny-cases.jsonl")).Count(l => l.Trim().Length > 0);
        for (int i = 0; i < n; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TinyCases))]
    public void TinyModelsMatchTheDoublePrecisionReference(int line)
    {
        using var doc = JsonDocument.Parse(File.ReadLines(HfFormatsFixtures.Path("models", "tiny-cases.jsonl")).Where(l => l.Trim().Length > 0).ElementAt(line));
        var c = doc.RootElement;
        string model = c.GetProperty("model").GetString()!;
        int[] ids = [.. c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32())];
        using var engine = Engine.Load(HfFormatsFixtures.Path("models", model));
        var logits = engine.Logits(ids);
        var last = c.GetProperty("last_position");
        int[] topIds = [.. last.GetProperty("top_ids").EnumerateArray().Select(e => e.GetInt32())];
        double[] topLogits = [.. last.GetProperty("top_logits").EnumerateArray().Select(e => e.GetDouble())];
        for (int i = 0; i < topIds.Length; i++)
        {
            Assert.Equal(topLogits[i], logits[^1][topIds[i]], 1e-4);
        }

        Assert.Equal(last.GetProperty("logsumexp").GetDouble(), Sampler.LogSumExp(logits[^1]), 1e-4);
        int[] top1 = [.. c.GetProperty("every_position_top1").EnumerateArray().Select(e => e.GetInt32())];
        Assert.Equal(top1, logits.Select(row => Sampler.ArgMax(row)).ToArray());
        int[] greedy = [.. c.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32())];
        var result = engine.Generator.Run([new GenerationRequest { PromptIds = ids, MaxNewTokens = greedy.Length, NumSamples = 1 }], CancellationToken.None);
        Assert.Equal(greedy, result[0].Samples[0].Tokens);
    }
}

/// <summary>The engine without a tokenizer, for id-level tests.</summary>
internal sealed class Engine : IDisposable
{
    private readonly SafetensorsCheckpoint _checkpoint;

    private Engine(SafetensorsCheckpoint checkpoint, CausalTransformer model)
    {
        _checkpoint = checkpoint;
        Model = model;
        Generator = new Generator(model, null, []);
    }

    public CausalTransformer Model { get; }

    public Generator Generator { get; }

    public static Engine Load(string folder, int threads = 2, bool toFloat32 = false)
    {
        var config = ModelConfig.Load(folder);
        var checkpoint = SafetensorsCheckpoint.Open(folder);
        return new Engine(checkpoint, new CausalTransformer(TransformerWeights.Load(config, checkpoint, toFloat32), new VectorKernels(threads)));
    }

    /// <summary>Logits at every position of one full forward pass.</summary>
    public float[][] Logits(IReadOnlyList<int> ids)
    {
        var item = new ForwardItem { Cache = Model.NewCache(ids.Count), Tokens = [.. ids], AllLogits = true };
        Model.Forward([item]);
        int v = Model.Config.VocabSize;
        return [.. Enumerable.Range(0, ids.Count).Select(i => item.Logits.AsSpan(i * v, v).ToArray())];
    }

    public void Dispose()
    {
        _checkpoint.Dispose();
        (Model.Kernels as IDisposable)?.Dispose();
    }
}
