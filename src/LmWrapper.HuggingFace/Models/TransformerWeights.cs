using LmWrapper.HuggingFace.Kernels;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Models;

/// <summary>One transformer block's weights. Unused fields stay null (GPT-2 has no gate, Llama no LayerNorm bias).</summary>
internal sealed class LayerWeights
{
    public required float[] Norm1 { get; init; }

    public float[] Norm1Bias { get; init; } = [];

    public required float[] Norm2 { get; init; }

    public float[] Norm2Bias { get; init; } = [];

    /// <summary>GPT-2: the fused [3D, D] q/k/v projection; Llama: q only.</summary>
    public required WeightMatrix Q { get; init; }

    public float[] QBias { get; init; } = [];

    public WeightMatrix? K { get; init; }

    public float[] KBias { get; init; } = [];

    public WeightMatrix? V { get; init; }

    public float[] VBias { get; init; } = [];

    public required WeightMatrix O { get; init; }

    public float[] OBias { get; init; } = [];

    public float[] QNorm { get; init; } = [];

    public float[] KNorm { get; init; } = [];

    /// <summary>Llama: gate_proj; GPT-2: null.</summary>
    public WeightMatrix? Gate { get; init; }

    public float[] GateBias { get; init; } = [];

    /// <summary>Llama: up_proj; GPT-2: c_fc.</summary>
    public required WeightMatrix Up { get; init; }

    public float[] UpBias { get; init; } = [];

    public required WeightMatrix Down { get; init; }

    public float[] DownBias { get; init; } = [];
}

/// <summary>
/// A model's weights, checked against its config: every tensor present with the shape the config implies (a clear
/// <see cref="HuggingFaceModelException"/> naming the tensor and both shapes otherwise). Matrices stay in the file's dtype
/// over the memory map; GPT-2's Conv1D matrices ([in, out]) are transposed once into the kernels' [out, in] layout.
/// </summary>
internal sealed class TransformerWeights
{
    private TransformerWeights(ModelConfig config, WeightMatrix embed, float[]? positions, LayerWeights[] layers, float[] finalNorm, float[] finalNormBias, WeightMatrix head)
    {
        Config = config;
        Embed = embed;
        Positions = positions;
        Layers = layers;
        FinalNorm = finalNorm;
        FinalNormBias = finalNormBias;
        Head = head;
    }

    public ModelConfig Config { get; }

    public WeightMatrix Embed { get; }

    /// <summary>GPT-2's learned positions [P, D]; null for RoPE models.</summary>
    public float[]? Positions { get; }

    public LayerWeights[] Layers { get; }

    public float[] FinalNorm { get; }

    public float[] FinalNormBias { get; }

    public WeightMatrix Head { get; }

    /// <summary>Bytes of matrix weights read for one token (all matrices once).</summary>
    public long MatrixBytes =>
        Head.ByteLength + Layers.Sum(l => l.Q.ByteLength + (l.K?.ByteLength ?? 0) + (l.V?.ByteLength ?? 0) + l.O.ByteLength
            + (l.Gate?.ByteLength ?? 0) + l.Up.ByteLength + l.Down.ByteLength);

    /// <summary>
    /// Reads and checks a model's weights; with <paramref name="quantize"/>, the matrices whose rows are whole blocks of 32
    /// become <see cref="WeightType.Q8"/>, quantized from the file in chunks of about <paramref name="quantizeChunkBytes"/>.
    /// </summary>
    public static TransformerWeights Load(ModelConfig config, SafetensorsCheckpoint checkpoint, bool toFloat32, bool quantize = false, int quantizeChunkBytes = 1 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantizeChunkBytes, 1);
        var loader = new Loader(config, checkpoint, toFloat32, quantize, quantizeChunkBytes);
        return config.Family == ModelFamily.Gpt2 ? LoadGpt2(config, loader) : LoadLlama(config, loader);
    }

    private static TransformerWeights LoadGpt2(ModelConfig c, Loader l)
    {
        string prefix = l.Has("transformer.wte.weight") ? "transformer." : "";
        int d = c.HiddenSize, inner = c.IntermediateSize;
        var embed = l.Matrix(prefix + "wte.weight", c.VocabSize, d);
        var positions = l.Vector(prefix + "wpe.weight", c.MaxPositions, d);
        var layers = new LayerWeights[c.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"{prefix}h.{i}.";
            layers[i] = new LayerWeights
            {
                Norm1 = l.Vector(p + "ln_1.weight", d),
                Norm1Bias = l.Vector(p + "ln_1.bias", d),
                Q = l.Conv1D(p + "attn.c_attn.weight", d, 3 * d),
                QBias = l.Vector(p + "attn.c_attn.bias", 3 * d),
                O = l.Conv1D(p + "attn.c_proj.weight", d, d),
                OBias = l.Vector(p + "attn.c_proj.bias", d),
                Norm2 = l.Vector(p + "ln_2.weight", d),
                Norm2Bias = l.Vector(p + "ln_2.bias", d),
                Up = l.Conv1D(p + "mlp.c_fc.weight", d, inner),
                UpBias = l.Vector(p + "mlp.c_fc.bias", inner),
                Down = l.Conv1D(p + "mlp.c_proj.weight", inner, d),
                DownBias = l.Vector(p + "mlp.c_proj.bias", d),
            };
        }

        var head = c.TieWordEmbeddings || !l.Has("lm_head.weight") ? embed : l.Matrix("lm_head.weight", c.VocabSize, d);
        return new TransformerWeights(c, embed, positions, layers, l.Vector(prefix + "ln_f.weight", d), l.Vector(prefix + "ln_f.bias", d), head);
    }

    private static TransformerWeights LoadLlama(ModelConfig c, Loader l)
    {
        int d = c.HiddenSize, hd = c.HeadDim, q = c.NumHeads * hd, kv = c.NumKvHeads * hd, inner = c.IntermediateSize;
        var embed = l.Matrix("model.embed_tokens.weight", c.VocabSize, d);
        var layers = new LayerWeights[c.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"model.layers.{i}.";
            layers[i] = new LayerWeights
            {
                Norm1 = l.Vector(p + "input_layernorm.weight", d),
                Q = l.Matrix(p + "self_attn.q_proj.weight", q, d),
                QBias = c.QkvBias ? l.Vector(p + "self_attn.q_proj.bias", q) : [],
                K = l.Matrix(p + "self_attn.k_proj.weight", kv, d),
                KBias = c.QkvBias ? l.Vector(p + "self_attn.k_proj.bias", kv) : [],
                V = l.Matrix(p + "self_attn.v_proj.weight", kv, d),
                VBias = c.QkvBias ? l.Vector(p + "self_attn.v_proj.bias", kv) : [],
                O = l.Matrix(p + "self_attn.o_proj.weight", d, q),
                OBias = c.OutputBias ? l.Vector(p + "self_attn.o_proj.bias", d) : [],
                QNorm = c.QkNorm ? l.Vector(p + "self_attn.q_norm.weight", hd) : [],
                KNorm = c.QkNorm ? l.Vector(p + "self_attn.k_norm.weight", hd) : [],
                Norm2 = l.Vector(p + "post_attention_layernorm.weight", d),
                Gate = l.Matrix(p + "mlp.gate_proj.weight", inner, d),
                GateBias = c.MlpBias ? l.Vector(p + "mlp.gate_proj.bias", inner) : [],
                Up = l.Matrix(p + "mlp.up_proj.weight", inner, d),
                UpBias = c.MlpBias ? l.Vector(p + "mlp.up_proj.bias", inner) : [],
                Down = l.Matrix(p + "mlp.down_proj.weight", d, inner),
                DownBias = c.MlpBias ? l.Vector(p + "mlp.down_proj.bias", d) : [],
            };
        }

        WeightMatrix head;
        if (c.TieWordEmbeddings)
        {
            head = embed;
        }
        else if (l.Has("lm_head.weight"))
        {
            head = l.Matrix("lm_head.weight", c.VocabSize, d);
        }
        else
        {
            throw new HuggingFaceModelException(c.Folder,
                "tensor 'lm_head.weight' is missing and config.json does not say tie_word_embeddings: true (the checkpoint is incomplete, or the config is wrong).");
        }

        return new TransformerWeights(c, embed, null, layers, l.Vector("model.norm.weight", d), [], head);
    }

    /// <summary>Reads tensors with their shapes checked.</summary>
    private sealed unsafe class Loader(ModelConfig config, SafetensorsCheckpoint checkpoint, bool toFloat32, bool quantize, int quantizeChunkBytes)
    {
        public bool Has(string name) => checkpoint.Contains(name);

        private SafetensorsTensorInfo Info(string name, params long[] shape)
        {
            if (!checkpoint.Contains(name))
            {
                throw new HuggingFaceModelException(config.Folder,
                    $"tensor '{name}' is missing from the weights (expected shape [{string.Join(", ", shape)}] for this {config.ModelType} config).");
            }

            var info = checkpoint.GetTensor(name);
            if (!info.Shape.SequenceEqual(shape))
            {
                throw new HuggingFaceModelException(config.Folder,
                    $"tensor '{name}' has shape [{string.Join(", ", info.Shape)}], but config.json implies [{string.Join(", ", shape)}] (config and weights do not match).");
            }

            if (info.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16))
            {
                throw new HuggingFaceModelException(config.Folder,
                    $"tensor '{name}' is {info.DType}; LmWrapper runs F32, F16 and BF16 weights (quantized checkpoints are not supported).");
            }

            return info;
        }

        public float[] Vector(string name, params long[] shape)
        {
            Info(name, shape);
            return checkpoint.ReadAsFloat32(name);
        }

        /// <summary>An nn.Linear-layout matrix [rows, cols], straight over the map.</summary>
        public WeightMatrix Matrix(string name, int rows, int cols)
        {
            var info = Info(name, rows, cols);
            if (quantize && cols % WeightMatrix.Q8Block == 0)
            {
                return QuantizeFromFile(checkpoint.FileOf(name), name, info.DType, rows, cols);
            }

            if (toFloat32 && info.DType != SafetensorsDType.F32)
            {
                var copy = WeightMatrix.AllocatePinned<float>((long)rows * cols);
                checkpoint.ReadAsFloat32(name, copy);
                return WeightMatrix.FromArray(copy, rows, cols);
            }

            var file = checkpoint.FileOf(name);
            byte* p = WeightMatrix.PointerOf(file.GetBytes(name, 0, 1));
            return new WeightMatrix(p, rows, cols, TypeOf(info.DType), file);
        }

        /// <summary>
        /// A Conv1D-layout matrix [in, out], transposed into [out, in] in its own dtype (or float32). The transposed copy is
        /// what the kernels read, so the source is read with file reads in blocks of rows rather than through the map: its
        /// pages then never count in this process's memory beside the copy (the file's page cache serves the reads) (they did, and made GPT-2's resident set hold its
        /// layer weights twice).
        /// </summary>
        public WeightMatrix Conv1D(string name, int inputs, int outputs)
        {
            var info = Info(name, inputs, outputs);
            var file = checkpoint.FileOf(name);
            if (quantize && inputs % WeightMatrix.Q8Block == 0)
            {
                return QuantizeTransposedFromFile(file, name, info.DType, inputs, outputs);
            }

            if (info.DType == SafetensorsDType.F32 || toFloat32 || quantize)
            {
                var t = WeightMatrix.AllocatePinned<float>((long)inputs * outputs);
                fixed (float* pt = t)
                {
                    if (info.DType == SafetensorsDType.F32)
                    {
                        TransposeFromFile(file, name, pt, inputs, outputs);
                    }
                    else
                    {
                        var values = checkpoint.ReadAsFloat32(name);
                        fixed (float* pv = values)
                        {
                            Transpose(pv, pt, inputs, outputs, 0, inputs);
                        }
                    }
                }

                return quantize && inputs % WeightMatrix.Q8Block == 0
                    ? WeightMatrix.Quantize(t, outputs, inputs)
                    : WeightMatrix.FromArray(t, outputs, inputs);
            }

            var h = WeightMatrix.AllocatePinned<ushort>((long)inputs * outputs);
            fixed (ushort* ph = h)
            {
                TransposeFromFile(file, name, ph, inputs, outputs);
            }

            return WeightMatrix.FromArray(h, outputs, inputs, TypeOf(info.DType));
        }

        /// <summary>
        /// An nn.Linear-layout matrix [rows, cols] quantized to <see cref="WeightType.Q8"/> straight from the file: chunks of
        /// whole rows read with <see cref="RandomAccess.Read(Microsoft.Win32.SafeHandles.SafeFileHandle, Span{byte}, long)"/>
        /// (F16/BF16 widened) and quantized on all cores, so neither a float32 copy of the matrix nor the mapped pages of
        /// the source ever count in this process's memory: only the Q8 values and scales stay.
        /// </summary>
        private WeightMatrix QuantizeFromFile(SafetensorsFile file, string name, SafetensorsDType dtype, int rows, int cols)
        {
            var (q, scales) = WeightMatrix.AllocateQ8(rows, cols);
            int blocks = cols / WeightMatrix.Q8Block;
            int chunkRows = (int)Math.Clamp(quantizeChunkBytes / ((long)cols * ElementBytes(dtype)), 1, Math.Max(1, rows));
            fixed (sbyte* pq = q)
            fixed (float* ps = scales)
            {
                sbyte* cq = pq;
                float* cs = ps;
                ReadChunks(file, name, dtype, rows, cols, chunkRows, 0, (r0, n, values, _) =>
                    GemmQ8.QuantizeRows(values, n, cols, cq + ((long)r0 * cols), null, cs + ((long)r0 * blocks)));
            }

            return WeightMatrix.FromQ8(q, scales, rows, cols);
        }

        /// <summary>
        /// A Conv1D-layout matrix [inputs, outputs] quantized to <see cref="WeightType.Q8"/> in the kernels' [outputs, inputs]
        /// layout straight from the file: each chunk of source rows is whole blocks of 32 inputs, so it is read, widened,
        /// transposed into a small float buffer and quantized into complete blocks of every output row, on all cores.
        /// </summary>
        private WeightMatrix QuantizeTransposedFromFile(SafetensorsFile file, string name, SafetensorsDType dtype, int inputs, int outputs)
        {
            const int B = WeightMatrix.Q8Block;
            var (q, scales) = WeightMatrix.AllocateQ8(outputs, inputs);
            int blocks = inputs / B;
            int chunkRows = (int)Math.Clamp(quantizeChunkBytes / (B * (long)outputs * ElementBytes(dtype)), 1, blocks) * B;
            fixed (sbyte* pq = q)
            fixed (float* ps = scales)
            {
                sbyte* cq = pq;
                float* cs = ps;
                ReadChunks(file, name, dtype, inputs, outputs, chunkRows, (long)chunkRows * outputs, (r0, n, values, t) =>
                {
                    for (int o = 0; o < outputs; o++)
                    {
                        float* to = t + ((long)o * n);
                        for (int r = 0; r < n; r++)
                        {
                            to[r] = values[((long)r * outputs) + o];
                        }

                        GemmQ8.QuantizeBlocks(to, n / B, cq + ((long)o * inputs) + r0, null, cs + ((long)o * blocks) + (r0 / B));
                    }
                });

                // Each output row is whole now: into the kernels' layout, in slices of rows on all cores.
                const int SliceRows = 256;
                Parallel.For(0, (outputs + SliceRows - 1) / SliceRows, i =>
                {
                    int o0 = i * SliceRows;
                    GemmQ8.Interleave((byte*)(cq + ((long)o0 * inputs)), Math.Min(SliceRows, outputs - o0), inputs);
                });
            }

            return WeightMatrix.FromQ8(q, scales, outputs, inputs);
        }

        private static int ElementBytes(SafetensorsDType dtype) => dtype == SafetensorsDType.F32 ? 4 : 2;

        /// <summary>Work on one chunk of a tensor's rows: its first row, its row count, its values as float32, and spare floats.</summary>
        private delegate void RowsChunkBody(int r0, int n, float* values, float* spare);

        /// <summary>
        /// A [rows, rowElements] tensor of the file in chunks of <paramref name="chunkRows"/> rows, on all cores: each chunk read
        /// with file reads (never through the map), widened to float32 when it is F16/BF16, and handed to <paramref name="body"/>
        /// with <paramref name="spareFloats"/> floats of the worker's own scratch.
        /// </summary>
        private void ReadChunks(SafetensorsFile file, string name, SafetensorsDType dtype, int rows, int rowElements, int chunkRows, long spareFloats, RowsChunkBody body)
        {
            long rowBytes = (long)rowElements * ElementBytes(dtype);
            long widened = dtype == SafetensorsDType.F32 ? 0 : (long)chunkRows * rowElements;
            long offset = file.FileOffsetOf(name);
            using var handle = File.OpenHandle(file.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read);
            ForChunks((rows + chunkRows - 1) / chunkRows, chunkRows * rowBytes, widened + spareFloats, (c, bytes, floats) =>
            {
                int r0 = c * chunkRows, n = Math.Min(chunkRows, rows - r0);
                ReadExactly(handle, new Span<byte>(bytes, (int)(n * rowBytes)), offset + (r0 * rowBytes), file, name);
                body(r0, n, Widen(dtype, bytes, floats, n * rowElements), floats + widened);
            });
        }

        /// <summary>A chunk's work: its index, a pinned byte buffer and a pinned float buffer of the sizes asked for.</summary>
        private delegate void ChunkBody(int chunk, byte* bytes, float* floats);

        /// <summary>Chunk buffers, reused by every matrix of the load (a few megabytes in all, not a few per matrix).</summary>
        private readonly System.Collections.Concurrent.ConcurrentBag<ChunkBuffers> _chunkBuffers = [];

        /// <summary>Runs <paramref name="body"/> for every chunk, in parallel, each worker with its own buffers (pinned while it runs).</summary>
        private void ForChunks(int chunks, long byteLength, long floatLength, ChunkBody body)
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Math.Min(Environment.ProcessorCount, chunks)) };
            Parallel.For(
                0,
                chunks,
                options,
                () =>
                {
                    var buffers = _chunkBuffers.TryTake(out var b) ? b : new ChunkBuffers();
                    buffers.Ensure(byteLength, floatLength);
                    return buffers;
                },
                (c, _, buffers) =>
                {
                    fixed (byte* b = buffers.Bytes)
                    fixed (float* f = buffers.Floats)
                    {
                        body(c, b, f);
                    }

                    return buffers;
                },
                _chunkBuffers.Add);
        }

        /// <summary>One worker's read buffer and widened-values buffer.</summary>
        private sealed class ChunkBuffers
        {
            public byte[] Bytes { get; private set; } = [];

            public float[] Floats { get; private set; } = [];

            public void Ensure(long bytes, long floats)
            {
                if (Bytes.Length < bytes)
                {
                    Bytes = GC.AllocateUninitializedArray<byte>(checked((int)bytes));
                }

                if (Floats.Length < floats)
                {
                    Floats = GC.AllocateUninitializedArray<float>(checked((int)floats));
                }
            }
        }

        /// <summary>Fills <paramref name="bytes"/> from the file at <paramref name="at"/>.</summary>
        private static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> bytes, long at, SafetensorsFile file, string name)
        {
            while (bytes.Length > 0)
            {
                int read = RandomAccess.Read(handle, bytes, at);
                if (read <= 0)
                {
                    throw new EndOfStreamException($"'{file.FilePath}' ended inside tensor '{name}'.");
                }

                bytes = bytes[read..];
                at += read;
            }
        }

        /// <summary>The chunk's values as float32: the bytes themselves for F32, else widened into <paramref name="floats"/>.</summary>
        private static float* Widen(SafetensorsDType dtype, byte* bytes, float* floats, int count)
        {
            var halves = new ReadOnlySpan<ushort>(bytes, count);
            switch (dtype)
            {
                case SafetensorsDType.F32:
                    return (float*)bytes;
                case SafetensorsDType.F16:
                    HalfConversion.F16ToFloat(halves, new Span<float>(floats, count));
                    return floats;
                default:
                    HalfConversion.Bf16ToFloat(halves, new Span<float>(floats, count));
                    return floats;
            }
        }

        /// <summary>The bytes read per block by <see cref="TransposeFromFile{T}"/>.</summary>
        internal const int ReadBlockBytes = 4 << 20;

        /// <summary>The read buffer, one for the whole load (pinned, so its blocks can be transposed through a pointer).</summary>
        private byte[]? _block;

        /// <summary>A [rows, cols] tensor of the file, read in blocks of whole rows, transposed into <paramref name="target"/> [cols, rows].</summary>
        private void TransposeFromFile<T>(SafetensorsFile file, string name, T* target, int rows, int cols)
            where T : unmanaged
        {
            long rowBytes = (long)cols * sizeof(T);
            int blockRows = (int)Math.Clamp(ReadBlockBytes / rowBytes, 1, rows);
            long need = blockRows * rowBytes;
            if (_block is null || _block.Length < need)
            {
                _block = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true);
            }

            long offset = file.FileOffsetOf(name);
            using var handle = File.OpenHandle(file.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read);
            fixed (byte* b = _block)
            {
                for (int r0 = 0; r0 < rows; r0 += blockRows)
                {
                    int n = Math.Min(blockRows, rows - r0);
                    ReadExactly(handle, new Span<byte>(b, (int)(n * rowBytes)), offset + (r0 * rowBytes), file, name);
                    Transpose((T*)b, target, rows, cols, r0, r0 + n);
                }
            }
        }

        /// <summary>
        /// Rows [r0, r1) of a [rows, cols] matrix, given as <paramref name="source"/> (which holds just those rows), into
        /// [cols, rows] <paramref name="target"/>; in cache-sized tiles, on all cores.
        /// </summary>
        private static void Transpose<T>(T* source, T* target, int rows, int cols, int r0, int r1)
            where T : unmanaged
        {
            const int Tile = 64;
            T* s = source, d = target;
            Parallel.For(0, (cols + Tile - 1) / Tile, cb =>
            {
                int c0 = cb * Tile, c1 = Math.Min(cols, c0 + Tile);
                for (int rt = r0; rt < r1; rt += Tile)
                {
                    int rt1 = Math.Min(r1, rt + Tile);
                    for (int c = c0; c < c1; c++)
                    {
                        T* to = d + ((long)c * rows);
                        for (int r = rt; r < rt1; r++)
                        {
                            to[r] = s[((long)(r - r0) * cols) + c];
                        }
                    }
                }
            });
        }

        private static WeightType TypeOf(SafetensorsDType t) => t switch
        {
            SafetensorsDType.F32 => WeightType.F32,
            SafetensorsDType.F16 => WeightType.F16,
            _ => WeightType.BF16,
        };
    }
}
