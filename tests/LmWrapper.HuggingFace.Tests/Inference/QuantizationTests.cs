using LmWrapper.HuggingFace.Kernels;
using LmWrapper.HuggingFace.Models;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>Int8 (Q8_0-style) weights: the kernel's integer arithmetic, and a quantized model's outputs against the original's.</summary>
public sealed class QuantizationTests
{
    [Theory]
    [InlineData(64, 40, 1)]
    [InlineData(96, 13, 3)]
    [InlineData(576, 37, 9)]
    public void TheQ8ProductIsTheBlockScaledIntegerDotProduct(int cols, int rows, int tokens)
    {
        var r = new Random(cols + rows);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, tokens * cols).Select(_ => (float)((r.NextDouble() - 0.5) * 4)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)r.NextDouble()).ToArray();
        var q = WeightMatrix.Quantize(w, rows, cols);
        Assert.Equal(WeightType.Q8, q.Type);
        var y = new float[tokens * rows];
        using var kernels = new VectorKernels(2);
        kernels.MatMul(x, tokens, q, bias, y);
        var row = new float[cols];
        for (int o = 0; o < rows; o++)
        {
            q.ReadRow(o, row);
            for (int t = 0; t < tokens; t++)
            {
                // Quantize the input block by block as llama.cpp's Q8_0 does, then the exact product of the two.
                double expected = bias[o], exact = bias[o];
                for (int b = 0; b < cols / 32; b++)
                {
                    var block = x.AsSpan((t * cols) + (b * 32), 32).ToArray();
                    float amax = block.Max(v => MathF.Abs(v));
                    float scale = amax / 127f;
                    for (int i = 0; i < 32; i++)
                    {
                        float xq = scale > 0 ? Math.Clamp(MathF.Round(block[i] * (1f / scale)), -127, 127) * scale : 0;
                        expected += (double)row[(b * 32) + i] * xq;
                        exact += (double)w[(o * cols) + (b * 32) + i] * block[i];
                    }
                }

                float got = y[(t * rows) + o];
                Assert.True(Math.Abs(expected - got) < 1e-3, $"o {o} t {t}: {expected} vs {got}");
                Assert.True(Math.Abs(exact - got) < 0.02 * Math.Sqrt(cols), $"o {o} t {t}: quantized {got} vs exact {exact}");
            }
        }
    }

    [Fact]
    public void AQuantizedModelKeepsItsGreedyOutputAndItsLogitsCloseToTheOriginal()
    {
        string folder = HfFormatsFixtures.Path("models", "stories260K");
        using var f32 = RandomModels.Load(folder);
        using var q8 = HuggingFaceLm.Get(folder, new HuggingFaceLmOptions { Quantization = WeightQuantization.Int8, ModelOptions = new LanguageModelOptions { CacheByDefault = false } });
        Assert.EndsWith(";q8", q8.ModelIdentity, StringComparison.Ordinal);
        Assert.True(q8.WeightBytesPerToken < f32.WeightBytesPerToken / 2);
        foreach (var text in new[] { "Once upon a time", "Lily and Ben", "The little dog", "" })
        {
            var prompt = new LmPrompt(text) { MaxTokens = 24, Temperature = 0, Echo = true };
            var a = f32.Predict(prompt);
            var b = q8.Predict(prompt);
            Assert.Equal(a.CompletionText, b.CompletionText);
            for (int i = 0; i < a.CompletionLogprobs.Count; i++)
            {
                Assert.True(Math.Abs(a.CompletionLogprobs[i] - b.CompletionLogprobs[i]) < 0.1, $"'{text}' token {i}: {a.CompletionLogprobs[i]} vs {b.CompletionLogprobs[i]}");
            }
        }
    }

    [Fact]
    public void QuantizedModelsOfEveryArchitectureStayCloseToTheirOriginals()
    {
        foreach (var name in new[] { "gpt2", "llama", "qwen3" })
        {
            string folder = RandomModels.Folder(name);
            int[] ids = name == "gpt2" ? [464, 3290, 11, 257, 1263, 2933] : [1, 450, 4996, 17354, 1701, 29916];
            var config = ModelConfig.Load(folder);
            using var checkpoint = LmWrapper.HuggingFace.Safetensors.SafetensorsCheckpoint.Open(folder);
            using var kernels = new VectorKernels(2);
            var exact = new CausalTransformer(TransformerWeights.Load(config, checkpoint, toFloat32: false), kernels);
            var quantized = new CausalTransformer(TransformerWeights.Load(config, checkpoint, toFloat32: false, quantize: true), kernels);
            var ea = new ForwardItem { Cache = exact.NewCache(8), Tokens = ids, AllLogits = true };
            var qa = new ForwardItem { Cache = quantized.NewCache(8), Tokens = ids, AllLogits = true };
            exact.Forward([ea]);
            quantized.Forward([qa]);
            double maxDiff = ea.Logits.Zip(qa.Logits).Max(p => Math.Abs(p.First - p.Second));
            double spread = ea.Logits.Max() - ea.Logits.Min();
            Assert.True(maxDiff < 0.05 * spread, $"{name}: logits differ by up to {maxDiff} (range {spread})");
        }
    }
}
