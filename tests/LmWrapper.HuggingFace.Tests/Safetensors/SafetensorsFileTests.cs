using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Safetensors;

public class SafetensorsFileTests
{
    private static string Gpt2Path => HfFormatsFixtures.Path("models", "tiny-random-gpt2", "model.safetensors");

    [Fact]
    public void ReadsTinyRandomGpt2WithTheShapesItsConfigImplies()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "tiny-random-gpt2", "config.json")));
        int vocab = config.RootElement.GetProperty("vocab_size").GetInt32();
        int dim = config.RootElement.GetProperty("n_embd").GetInt32();
        int layers = config.RootElement.GetProperty("n_layer").GetInt32();
        int positions = config.RootElement.GetProperty("n_positions").GetInt32();

        using var f = SafetensorsFile.Open(Gpt2Path);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(4 + 12 * layers, f.TensorNames.Count);
        Assert.Equal([vocab, dim], f.GetTensor("transformer.wte.weight").Shape);
        Assert.Equal([positions, dim], f.GetTensor("transformer.wpe.weight").Shape);
        for (int l = 0; l < layers; l++)
        {
            Assert.Equal([dim, 3 * dim], f.GetTensor($"transformer.h.{l}.attn.c_attn.weight").Shape);
            Assert.Equal([dim, 4 * dim], f.GetTensor($"transformer.h.{l}.mlp.c_fc.weight").Shape);
            Assert.Equal([4 * dim, dim], f.GetTensor($"transformer.h.{l}.mlp.c_proj.weight").Shape);
        }
        Assert.All(f.Tensors.Values, t => Assert.Equal(SafetensorsDType.F32, t.DType));
        Assert.Equal("transformer.h.0.attn.c_attn.bias", f.TensorNames[0]);

        // The fixture's LayerNorms are weight 1 and bias 0; the embeddings are random and non-trivial.
        Assert.All(f.ReadAsFloat32("transformer.ln_f.weight"), v => Assert.Equal(1f, v));
        Assert.All(f.ReadAsFloat32("transformer.h.3.ln_2.bias"), v => Assert.Equal(0f, v));
        var wte = f.ReadAsFloat32("transformer.wte.weight");
        Assert.Equal(vocab * dim, wte.Length);
        Assert.True(wte.Distinct().Count() > 1000);
        Assert.Equal(BitConverter.ToSingle(f.GetBytes("transformer.wte.weight")[4..8]), wte[1]);
    }

    [Fact]
    public void WriterReproducesTheReferenceFileByteForByte()
    {
        using var f = SafetensorsFile.Open(Gpt2Path);
        var w = new SafetensorsWriter();
        foreach (var (key, value) in f.Metadata) w.AddMetadata(key, value);
        foreach (var name in f.TensorNames.Reverse())
        {
            var t = f.GetTensor(name);
            w.AddRaw(name, t.DType, t.Shape, f.GetBytes(name));
        }
        Assert.Equal(File.ReadAllBytes(Gpt2Path), w.ToArray());
    }

    [Fact]
    public void RoundTripsF32F16AndBf16WithMetadata()
    {
        using var dir = new TempDir();
        var rng = new Random(1234);
        float[] values = Enumerable.Range(0, 6 * 7).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        values[0] = 0f;
        values[1] = -0f;
        values[2] = 65504f;
        values[3] = 1e-6f; // an F16 subnormal
        string path = dir.File("w.safetensors");
        new SafetensorsWriter()
            .AddMetadata("format", "pt")
            .AddMetadata("note", "ünïcode \"quoted\"")
            .Add("a.f32", values, [6, 7])
            .Add("b.f16", values, [6, 7], SafetensorsDType.F16)
            .Add("c.bf16", values, [42], SafetensorsDType.BF16)
            .AddRaw("d.i8", SafetensorsDType.I8, [3], [1, 0xFF, 0x80])
            .AddRaw("e.scalar", SafetensorsDType.F32, [], BitConverter.GetBytes(3.5f))
            .Save(path);

        byte[] bytes = File.ReadAllBytes(path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        Assert.Equal((byte)'{', bytes[8]);

        using var f = SafetensorsFile.Open(path);
        Assert.Equal("ünïcode \"quoted\"", f.Metadata["note"]);
        Assert.Equal(["a.f32", "e.scalar", "b.f16", "c.bf16", "d.i8"], f.TensorNames);
        Assert.Equal(values, f.ReadAsFloat32("a.f32"));
        Assert.Equal(values.Select(v => (float)(Half)v), f.ReadAsFloat32("b.f16"));
        var bf = new float[42];
        f.ReadAsFloat32("c.bf16", bf);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i], bf[i], Math.Abs(values[i]) / 128f + 1e-30f);
            Assert.Equal(0u, BitConverter.SingleToUInt32Bits(bf[i]) & 0xFFFF);
        }
        Assert.Equal([1, 0xFF, 0x80], f.GetBytes("d.i8").ToArray());
        Assert.Equal(SafetensorsDType.I8, f.GetTensor("d.i8").DType);
        Assert.Equal([3.5f], f.ReadAsFloat32("e.scalar"));
        Assert.Empty(f.GetTensor("e.scalar").Shape);
        Assert.Throws<NotSupportedException>(() => f.ReadAsFloat32("d.i8"));
        Assert.Throws<ArgumentException>(() => f.ReadAsFloat32("a.f32", new float[5]));
        Assert.Contains("no tensor named 'zzz'", Assert.Throws<SafetensorsException>(() => f.GetTensor("zzz")).Message);
    }

    [Theory]
    [InlineData(SafetensorsDType.F16)]
    [InlineData(SafetensorsDType.BF16)]
    public void LargeHalfTensorsConvertInParallelChunksExactly(SafetensorsDType dtype)
    {
        using var dir = new TempDir();
        int n = (1 << 20) + 12_345; // above the parallel threshold, not a whole number of chunks
        var values = new float[n];
        var rng = new Random(5);
        for (int i = 0; i < n; i++) values[i] = (float)(rng.NextDouble() * 200 - 100);
        string path = dir.File("big.safetensors");
        new SafetensorsWriter().Add("t", values, [n], dtype).Save(path);
        using var f = SafetensorsFile.Open(path);
        var got = f.ReadAsFloat32("t");
        var raw = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(f.GetBytes("t"));
        for (int i = 0; i < n; i++)
        {
            float want = dtype == SafetensorsDType.F16 ? (float)BitConverter.UInt16BitsToHalf(raw[i]) : BitConverter.UInt32BitsToSingle((uint)raw[i] << 16);
            if (want != got[i]) Assert.Fail($"element {i}: {got[i]} != {want}");
        }
    }

    [Fact]
    public void F16ConversionIsExactForAll65536Values()
    {
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var got = new float[all.Length];
        HalfConversion.F16ToFloat(all, got);
        for (int i = 0; i < all.Length; i++)
        {
            float want = (float)BitConverter.UInt16BitsToHalf(all[i]);
            if (float.IsNaN(want)) Assert.True(float.IsNaN(got[i]), $"0x{i:x4}");
            else Assert.True(BitConverter.SingleToUInt32Bits(want) == BitConverter.SingleToUInt32Bits(got[i]), $"0x{i:x4}: {want} vs {got[i]}");
        }
    }

    [Fact]
    public void Bf16ConversionAndRoundingMatchTheFormat()
    {
        var all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var got = new float[all.Length];
        HalfConversion.Bf16ToFloat(all, got);
        for (int i = 0; i < all.Length; i++) Assert.Equal((uint)i << 16, BitConverter.SingleToUInt32Bits(got[i]));

        Assert.Equal(0x3F80, HalfConversion.FloatToBf16(1f));
        Assert.Equal(0x3F80, HalfConversion.FloatToBf16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie → even
        Assert.Equal(0x3F82, HalfConversion.FloatToBf16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie → even (up)
        Assert.Equal(0x3F81, HalfConversion.FloatToBf16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)HalfConversion.FloatToBf16(float.NaN) << 16)));
    }

    // ----- validation -----

    private static byte[] Build(string headerJson, int dataBytes, ulong? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private static SafetensorsException OpenBad(byte[] bytes)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, ex.FilePath);
        Assert.Contains("bad.safetensors", ex.Message);
        return ex;
    }

    [Fact]
    public void TooShortFileIsRejected() =>
        Assert.Contains("too short", OpenBad([1, 2, 3]).Message);

    [Fact]
    public void HeaderLengthPastTheFileIsRejected() =>
        Assert.Contains("runs past the end of the file", OpenBad(Build("{}", 0, declaredLength: 1000)).Message);

    [Fact]
    public void MalformedJsonHeaderIsRejected() =>
        Assert.Contains("JSON header is malformed", OpenBad(Build("{\"a\": {\"dtype\": ", 0)).Message);

    [Fact]
    public void UnknownDtypeIsRejected() =>
        Assert.Contains("unknown dtype 'F7'", OpenBad(Build("""{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}""", 4)).Message);

    [Fact]
    public void SizeNotMatchingDtypeAndShapeIsRejected() =>
        Assert.Contains("needs 24", OpenBad(Build("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}""", 20)).Message);

    [Fact]
    public void OverlappingOffsetsAreRejected() =>
        Assert.Contains("overlap", OpenBad(Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12)).Message);

    [Fact]
    public void GapsBetweenTensorsAreRejected() =>
        Assert.Contains("gap", OpenBad(Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12)).Message);

    [Fact]
    public void OffsetsOutOfRangeMeanATruncatedFile() =>
        Assert.Contains("truncated", OpenBad(Build("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 10)).Message);

    [Fact]
    public void TrailingUnaccountedBytesAreRejected() =>
        Assert.Contains("account for only 4", OpenBad(Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 9)).Message);

    [Fact]
    public void InvalidOffsetsAreRejected() =>
        Assert.Contains("invalid data_offsets", OpenBad(Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", 8)).Message);

    [Fact]
    public void TruncatedRealFileIsRejected()
    {
        byte[] bytes = File.ReadAllBytes(Gpt2Path);
        Assert.Contains("truncated", OpenBad(bytes[..(bytes.Length - 100)]).Message);
    }
}
