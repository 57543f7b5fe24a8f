using LmWrapper.HuggingFace.Kernels;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>
/// The streaming Q8 load (each matrix quantized from chunks of rows read from the file, never a float32 copy of it) against
/// quantizing the whole float32 matrix, for nn.Linear (Llama) and Conv1D (GPT-2, transposed) tensors in F32, F16 and BF16,
/// with chunks of many rows and with chunks smaller than a row.
/// </summary>
public sealed class Q8LoadTests
{
    /// <summary>Every matrix of the model, named.</summary>
    private static IEnumerable<(string Name, WeightMatrix Matrix)> Matrices(TransformerWeights w)
    {
        yield return ("embed", w.Embed);
        yield return ("head", w.Head);
        for (int i = 0; i < w.Layers.Length; i++)
        {
            var l = w.Layers[i];
            foreach (var (name, m) in new[] { ("q", l.Q), ("k", l.K), ("v", l.V), ("o", l.O), ("gate", l.Gate), ("up", l.Up), ("down", l.Down) })
            {
                if (m is not null)
                {
                    yield return ($"layer {i} {name}", m);
                }
            }
        }
    }

    [Theory]
    [InlineData("llama", SafetensorsDType.F32, 1 << 20)]
    [InlineData("llama", SafetensorsDType.F16, 1000)]
    [InlineData("llama", SafetensorsDType.BF16, 1 << 20)]
    [InlineData("gpt2", SafetensorsDType.F32, 1000)]
    [InlineData("gpt2", SafetensorsDType.F16, 1 << 20)]
    [InlineData("gpt2", SafetensorsDType.BF16, 1000)]
    public void AStreamedQ8LoadEqualsQuantizingTheWholeMatrices(string modelType, SafetensorsDType dtype, int chunkBytes)
    {
        // Hidden size 288 = 9 blocks (one interleaved group and a tail block); GPT-2's inner size 1152 = 36 blocks.
        var spec = new RandomModelSpec
        {
            ModelType = modelType,
            HiddenSize = 288,
            NumHeads = 4,
            NumKvHeads = modelType == "gpt2" ? 4 : 2,
            IntermediateSize = modelType == "gpt2" ? 1152 : 544,
            NumLayers = 1,
            TieWordEmbeddings = modelType == "gpt2",
            DType = dtype,
            Shards = 2,
            Seed = 7,
        };
        using var dir = new TempDir();
        RandomModelWriter.Write(dir.Path, spec);
        var config = ModelConfig.Load(dir.Path);
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var streamed = TransformerWeights.Load(config, checkpoint, toFloat32: false, quantize: true, quantizeChunkBytes: chunkBytes);
        var full = TransformerWeights.Load(config, checkpoint, toFloat32: true);
        var pairs = Matrices(streamed).Zip(Matrices(full)).ToList();
        Assert.Equal(modelType == "gpt2" ? 6 : 9, pairs.Count);
        foreach (var ((name, q), (_, f)) in pairs)
        {
            Assert.Equal(WeightType.Q8, q.Type);
            Assert.Equal(WeightType.F32, f.Type);
            var values = new float[(long)f.Rows * f.Cols];
            for (int r = 0; r < f.Rows; r++)
            {
                f.RowF32(r).CopyTo(values.AsSpan(r * f.Cols, f.Cols));
            }

            var expected = WeightMatrix.Quantize(values, f.Rows, f.Cols);
            Assert.Equal((expected.Rows, expected.Cols), (q.Rows, q.Cols));
            Assert.True(expected.Scales.AsSpan().SequenceEqual(q.Scales), $"{name}: scales differ");
            Assert.True(expected.Bytes.SequenceEqual(q.Bytes), $"{name}: quantized values differ");
        }
    }
}
