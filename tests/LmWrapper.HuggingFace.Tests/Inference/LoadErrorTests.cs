using System.Text.Json.Nodes;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>Folders HuggingFaceLm cannot run fail at load with a HuggingFaceModelException naming the folder and the problem.</summary>
public sealed class LoadErrorTests
{
    private static string Copy(TempDir dir, string source)
    {
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }

        return dir.Path;
    }

    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    private static HuggingFaceModelException Fails(string folder)
    {
        var e = Assert.Throws<HuggingFaceModelException>(() => HuggingFaceLm.Get(folder));
        Assert.Contains(folder, e.Message, StringComparison.Ordinal);
        Assert.Equal(folder, e.Folder);
        return e;
    }

    [Fact]
    public void AnUnknownModelTypeIsNamed()
    {
        using var dir = new TempDir();
        string folder = Copy(dir, RandomModels.Folder("llama"));
        EditConfig(folder, c => c["model_type"] = "falcon");
        Assert.Contains("model_type \"falcon\" is not supported", Fails(folder).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rope_scaling", """{"rope_type":"yarn","factor":4.0}""", "rope_scaling type \"yarn\"")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act \"gelu\"")]
    [InlineData("num_attention_heads", "5", "num_attention_heads")]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads")]
    [InlineData("vocab_size", "\"many\"", "vocab_size")]
    [InlineData("partial_rotary_factor", "0.5", "partial_rotary_factor")]
    public void AnUnsupportedOrInvalidOptionIsNamed(string key, string value, string expected)
    {
        using var dir = new TempDir();
        string folder = Copy(dir, RandomModels.Folder("llama"));
        EditConfig(folder, c => c[key] = JsonNode.Parse(value));
        Assert.Contains(expected, Fails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingTensorIsNamedWithItsExpectedShape()
    {
        using var dir = new TempDir();
        string source = RandomModels.Folder("llama");
        string folder = Copy(dir, source);
        using (var checkpoint = SafetensorsCheckpoint.Open(source))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in checkpoint.TensorNames.Where(n => n != "model.layers.1.mlp.up_proj.weight"))
            {
                writer.Add(name, checkpoint.ReadAsFloat32(name), [.. checkpoint.GetTensor(name).Shape]);
            }

            writer.Save(Path.Combine(folder, "model.safetensors"));
        }

        var e = Fails(folder);
        Assert.Contains("'model.layers.1.mlp.up_proj.weight' is missing", e.Message, StringComparison.Ordinal);
        Assert.Contains("[48, 32]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AConfigThatDoesNotMatchTheWeightsNamesBothShapes()
    {
        using var dir = new TempDir();
        string folder = Copy(dir, RandomModels.Folder("llama"));
        EditConfig(folder, c => c["intermediate_size"] = 50);
        var e = Fails(folder);
        Assert.Contains("has shape [48, 32], but config.json implies [50, 32]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUntiedModelWithoutAHeadIsNamed()
    {
        using var dir = new TempDir();
        string source = RandomModels.Folder("llama");
        string folder = Copy(dir, source);
        using (var checkpoint = SafetensorsCheckpoint.Open(source))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in checkpoint.TensorNames.Where(n => n != "lm_head.weight"))
            {
                writer.Add(name, checkpoint.ReadAsFloat32(name), [.. checkpoint.GetTensor(name).Shape]);
            }

            writer.Save(Path.Combine(folder, "model.safetensors"));
        }

        Assert.Contains("lm_head.weight", Fails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACorruptSafetensorsHeaderIsNamed()
    {
        using var dir = new TempDir();
        string folder = Copy(dir, RandomModels.Folder("llama"));
        var bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        bytes[12] = (byte)'#';
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), bytes);
        var e = Fails(folder);
        Assert.Contains("weights cannot be read", e.Message, StringComparison.Ordinal);
        Assert.IsType<SafetensorsException>(e.InnerException);
    }

    [Fact]
    public void ATruncatedWeightFileIsNamed()
    {
        using var dir = new TempDir();
        string folder = Copy(dir, RandomModels.Folder("gpt2"));
        string weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        Assert.IsType<SafetensorsException>(Fails(folder).InnerException);
    }

    [Fact]
    public void ATokenizerLargerThanTheVocabularyIsNamed()
    {
        using var dir = new TempDir();
        var spec = RandomModels.Specs["llama"] with { VocabSize = 1000 };
        string folder = RandomModelWriter.Write(dir.Path, spec);
        Assert.Contains("vocab_size is 1000", Fails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        using var dir = new TempDir();
        Assert.Contains("no config.json", Fails(dir.Path).Message, StringComparison.Ordinal);
        string folder = Copy(dir, RandomModels.Folder("llama"));
        File.Delete(Path.Combine(folder, "tokenizer.json"));
        Assert.Contains("tokenizer", Fails(folder).Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{ not json");
        Assert.Contains("not valid JSON", Fails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuantizedWeightsAreRefused()
    {
        using var dir = new TempDir();
        string source = RandomModels.Folder("gpt2");
        string folder = Copy(dir, source);
        using (var checkpoint = SafetensorsCheckpoint.Open(source))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in checkpoint.TensorNames)
            {
                var info = checkpoint.GetTensor(name);
                if (name.EndsWith("attn.c_proj.weight", StringComparison.Ordinal))
                {
                    writer.AddRaw(name, SafetensorsDType.I8, [.. info.Shape], new byte[info.ElementCount]);
                }
                else
                {
                    writer.Add(name, checkpoint.ReadAsFloat32(name), [.. info.Shape]);
                }
            }

            writer.Save(Path.Combine(folder, "model.safetensors"));
        }

        Assert.Contains("is I8", Fails(folder).Message, StringComparison.Ordinal);
    }
}

/// <summary>A model with more embedding rows than its tokenizer has ids (a padded vocabulary).</summary>
public sealed class PaddedVocabularyTests
{
    [Fact]
    public void IdsTheTokenizerLacksDecodeToNothingInsteadOfFailing()
    {
        using var dir = new TempDir();
        var spec = RandomModels.Specs["llama"] with { VocabSize = 32064, Seed = 77 };
        string folder = RandomModelWriter.Write(dir.Path, spec);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 3, Temperature = 0, Logprobs = 3 };
        float[] h;
        using (var probe = RandomModels.Load(folder))
        {
            var inside = probe.Predict(prompt with { MaxTokens = 1, Internals = new LmWrapper.Internals.ModelInternalsRequest { HiddenStates = true, Layers = [-1] } });
            var states = inside.Internals!.HiddenStates[0];
            h = states.Row(states.Shape[0] - 1).ToArray();
        }

        // Make id 32050 (no such token in the tokenizer) the certain first choice: its head row points along the final hidden state.
        using (var checkpoint = SafetensorsCheckpoint.Open(folder))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in checkpoint.TensorNames.ToList())
            {
                var values = checkpoint.ReadAsFloat32(name);
                if (name == "lm_head.weight")
                {
                    double norm2 = h.Sum(v => (double)v * v);
                    for (int d = 0; d < h.Length; d++)
                    {
                        values[(32050 * h.Length) + d] = (float)(h[d] * 100 / norm2);
                    }
                }

                writer.Add(name, values, [.. checkpoint.GetTensor(name).Shape]);
            }

            writer.Save(Path.Combine(dir.Path, "patched.safetensors"));
        }

        File.Move(Path.Combine(dir.Path, "patched.safetensors"), Path.Combine(folder, "model.safetensors"), overwrite: true);
        using var lm = RandomModels.Load(folder);
        var p = lm.Predict(prompt);
        Assert.Equal(3, p.CompletionTokens.Count);
        Assert.Equal("", p.CompletionTokens[0]);
        Assert.True(p.CompletionLogprobs[0] > -0.01);
        Assert.Contains("<id 32050>", p.TopTokenLogprobs[0].Keys);
        Assert.Equal(string.Concat(p.CompletionTokens), p.CompletionText);
    }
}
