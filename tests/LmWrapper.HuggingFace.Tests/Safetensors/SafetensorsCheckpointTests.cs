using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Safetensors;

public class SafetensorsCheckpointTests
{
    private static void WriteShards(TempDir dir, string index)
    {
        new SafetensorsWriter().AddMetadata("format", "pt").Add("a", [1f, 2f], [2]).Add("b", [3f], [1]).Save(dir.File("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().AddMetadata("format", "pt").Add("c", [4f, 5f, 6f, 7f], [2, 2], SafetensorsDType.BF16).Save(dir.File("model-00002-of-00002.safetensors"));
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), index);
    }

    private const string GoodIndex = """
        {"metadata": {"total_size": 18}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}
        """;

    [Fact]
    public void OpensShardedCheckpointAndFindsEveryTensor()
    {
        using var dir = new TempDir();
        WriteShards(dir, GoodIndex);
        Assert.True(SafetensorsCheckpoint.Exists(dir.Path));
        using var ckpt = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(2, ckpt.Files.Count);
        Assert.Equal(["a", "b", "c"], ckpt.TensorNames.Order());
        Assert.Equal("18", ckpt.Metadata["total_size"]);
        Assert.Equal([1f, 2f], ckpt.ReadAsFloat32("a"));
        Assert.Equal([4f, 5f, 6f, 7f], ckpt.ReadAsFloat32("c"));
        Assert.Equal(SafetensorsDType.BF16, ckpt.GetTensor("c").DType);
        Assert.EndsWith("model-00002-of-00002.safetensors", ckpt.FileOf("c").FilePath);
        Assert.False(ckpt.Contains("d"));
        Assert.Throws<SafetensorsException>(() => ckpt.GetTensor("d"));
    }

    [Fact]
    public void OpensSingleFileFolder()
    {
        using var ckpt = SafetensorsCheckpoint.Open(HfFormatsFixtures.Path("models", "tiny-random-gpt2"));
        Assert.Single(ckpt.Files);
        Assert.True(ckpt.Contains("transformer.wte.weight"));
        Assert.Equal("pt", ckpt.Metadata["format"]);
    }

    [Fact]
    public void MissingShardIsAClearError()
    {
        using var dir = new TempDir();
        WriteShards(dir, GoodIndex);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("shard 'model-00002-of-00002.safetensors'", ex.Message);
        Assert.Contains("missing", ex.Message);
    }

    [Fact]
    public void IndexNamingTheWrongShardIsAClearError()
    {
        using var dir = new TempDir();
        WriteShards(dir, """{"weight_map": {"a": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}""");
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("tensor 'a' is in this shard but it is not", ex.Message);
    }

    [Fact]
    public void FolderWithoutSafetensorsSaysSo()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("pytorch_model.bin"), "x");
        Assert.False(SafetensorsCheckpoint.Exists(dir.Path));
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Contains("no safetensors weights", ex.Message);
        Assert.Contains("pytorch_model.bin", ex.Message);
    }
}
