using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// The forward pass of a GPT-2 or Llama-family decoder, in float32 as transformers computes it, over one or several
/// sequences at once: the matrix products take every new token of every sequence as rows (each weight is read once per
/// step), attention runs per sequence over its own <see cref="KvCache"/>. A row's result depends only on its own
/// sequence, so a batch gives the same numbers as each sequence alone.
/// </summary>
internal sealed class CausalTransformer
{
    [ThreadStatic]
    private static float[]? t_scores;

    /// <summary>Below this many query × key multiply-adds in a layer, attention runs on the calling thread.</summary>
    private const long ParallelAttentionWork = 1 << 14;

    private readonly TransformerWeights _w;
    private readonly ModelConfig _c;
    private readonly IInferenceKernels _k;
    private readonly float[] _invFreq;

    public CausalTransformer(TransformerWeights weights, IInferenceKernels kernels)
    {
        _w = weights;
        _c = weights.Config;
        _k = kernels;
        _invFreq = _c.Family == ModelFamily.Llama ? Rope.InverseFrequencies(_c, _c.MaxPositions) : [];
    }

    public ModelConfig Config => _c;

    public TransformerWeights Weights => _w;

    public IInferenceKernels Kernels => _k;

    /// <summary>Width of a key or value row in the cache.</summary>
    public int KvWidth => _c.NumKvHeads * _c.HeadDim;

    /// <summary>A cache for one sequence with room for <paramref name="capacity"/> tokens.</summary>
    public KvCache NewCache(int capacity) => new(_c.NumLayers, KvWidth, capacity);

    /// <summary>Runs each item's new tokens after its cache, appends their keys and values, and fills its logits.</summary>
    public void Forward(IReadOnlyList<ForwardItem> items)
    {
        int d = _c.HiddenSize, hd = _c.HeadDim, heads = _c.NumHeads, kvHeads = _c.NumKvHeads;
        int qWidth = heads * hd, kvWidth = KvWidth;
        int rows = 0;
        foreach (var item in items)
        {
            if (item.Tokens.Length == 0)
            {
                throw new ArgumentException("A forward item has no tokens.", nameof(items));
            }

            rows += item.Tokens.Length;
            item.Cache.EnsureCapacity(item.Cache.Length + item.Tokens.Length);
        }

        var rowItem = new int[rows];
        var rowPos = new int[rows];
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var rented = new List<float[]>();
        float[] Rent(int length)
        {
            var a = pool.Rent(Math.Max(1, length));
            rented.Add(a);
            return a;
        }

        try
        {
            var x = Rent(rows * d);
            int r = 0;
            for (int i = 0; i < items.Count; i++)
            {
                var item = items[i];
                for (int j = 0; j < item.Tokens.Length; j++, r++)
                {
                    rowItem[r] = i;
                    rowPos[r] = item.Cache.Length + j;
                    int id = item.Tokens[j];
                    if ((uint)id >= (uint)_c.VocabSize)
                    {
                        throw new ArgumentOutOfRangeException(nameof(items), id, $"Token id {id} is outside the model's vocabulary (size {_c.VocabSize}).");
                    }

                    var row = x.AsSpan(r * d, d);
                    _w.Embed.ReadRow(id, row);
                    if (_w.Positions is { } wpe)
                    {
                        if (rowPos[r] >= _c.MaxPositions)
                        {
                            throw new InvalidOperationException($"Position {rowPos[r]} is past the model's {_c.MaxPositions} learned positions.");
                        }

                        _k.Add(row, wpe.AsSpan(rowPos[r] * d, d));
                    }
                }
            }

            Observe(items, rowItem, rowPos, x, 0, d);

            // Per-sequence RoPE frequencies (dynamic NTK depends on the sequence's length).
            float[][] invFreq = new float[items.Count][];
            if (_c.Family == ModelFamily.Llama)
            {
                for (int i = 0; i < items.Count; i++)
                {
                    int seqLen = items[i].Cache.Length + items[i].Tokens.Length;
                    invFreq[i] = _c.RopeScaling == RopeScalingType.Dynamic && seqLen > _c.MaxPositions
                        ? Rope.InverseFrequencies(_c, seqLen)
                        : _invFreq;
                }
            }

            int inner = rows * _c.IntermediateSize;
            var h = Rent(rows * d);
            var q = Rent(rows * qWidth);
            var k = Rent(rows * kvWidth);
            var v = Rent(rows * kvWidth);
            var att = Rent(rows * qWidth);
            var o = Rent(rows * d);
            var up = Rent(inner);
            var gate = _c.Family == ModelFamily.Llama ? Rent(inner) : [];
            var qkv = _c.Family == ModelFamily.Gpt2 ? Rent(rows * 3 * d) : [];
            // cos and sin of each row's position, computed once for all layers.
            int half = hd / 2;
            float[] cos = [], sin = [];
            if (_c.Family == ModelFamily.Llama)
            {
                cos = Rent(rows * half);
                sin = Rent(rows * half);
                for (int t = 0; t < rows; t++)
                {
                    Rope.Angles(invFreq[rowItem[t]], rowPos[t], cos.AsSpan(t * half, half), sin.AsSpan(t * half, half));
                }
            }

            for (int l = 0; l < _c.NumLayers; l++)
            {
                var lw = _w.Layers[l];
                Norm(x, lw.Norm1, lw.Norm1Bias, h, rows);
                if (_c.Family == ModelFamily.Gpt2)
                {
                    _k.MatMul(h, rows, lw.Q, lw.QBias, qkv);
                    for (int t = 0; t < rows; t++)
                    {
                        qkv.AsSpan(t * 3 * d, d).CopyTo(q.AsSpan(t * qWidth, d));
                        qkv.AsSpan((t * 3 * d) + d, d).CopyTo(k.AsSpan(t * kvWidth, d));
                        qkv.AsSpan((t * 3 * d) + (2 * d), d).CopyTo(v.AsSpan(t * kvWidth, d));
                    }
                }
                else
                {
                    _k.MatMulShared(h, rows, [lw.Q, lw.K!, lw.V!], [lw.QBias, lw.KBias, lw.VBias], [q, k, v]);
                    for (int t = 0; t < rows; t++)
                    {
                        if (_c.QkNorm)
                        {
                            for (int hh = 0; hh < heads; hh++)
                            {
                                var s = q.AsSpan((t * qWidth) + (hh * hd), hd);
                                _k.RmsNorm(s, lw.QNorm, (float)_c.NormEps, s);
                            }

                            for (int hh = 0; hh < kvHeads; hh++)
                            {
                                var s = k.AsSpan((t * kvWidth) + (hh * hd), hd);
                                _k.RmsNorm(s, lw.KNorm, (float)_c.NormEps, s);
                            }
                        }

                        var rowCos = cos.AsSpan(t * half, half);
                        var rowSin = sin.AsSpan(t * half, half);
                        for (int hh = 0; hh < heads; hh++)
                        {
                            Rope.Rotate(q.AsSpan((t * qWidth) + (hh * hd), hd), rowCos, rowSin);
                        }

                        for (int hh = 0; hh < kvHeads; hh++)
                        {
                            Rope.Rotate(k.AsSpan((t * kvWidth) + (hh * hd), hd), rowCos, rowSin);
                        }
                    }
                }

                for (int t = 0; t < rows; t++)
                {
                    var cache = items[rowItem[t]].Cache;
                    k.AsSpan(t * kvWidth, kvWidth).CopyTo(cache.Keys(l).Slice(rowPos[t] * kvWidth, kvWidth));
                    v.AsSpan(t * kvWidth, kvWidth).CopyTo(cache.Values(l).Slice(rowPos[t] * kvWidth, kvWidth));
                }

                Attend(items, rowItem, rowPos, l, q, att, rows);
                _k.MatMul(att, rows, lw.O, lw.OBias, o);
                _k.Add(x.AsSpan(0, rows * d), o.AsSpan(0, rows * d));

                Norm(x, lw.Norm2, lw.Norm2Bias, h, rows);
                if (_c.Family == ModelFamily.Gpt2)
                {
                    _k.MatMul(h, rows, lw.Up, lw.UpBias, up);
                    _k.GeluNew(up.AsSpan(0, inner));
                    _k.MatMul(up, rows, lw.Down, lw.DownBias, o);
                }
                else
                {
                    _k.MatMulShared(h, rows, [lw.Gate!, lw.Up], [lw.GateBias, lw.UpBias], [gate, up]);
                    _k.SiluMul(gate.AsSpan(0, inner), up.AsSpan(0, inner));
                    _k.MatMul(gate, rows, lw.Down, lw.DownBias, o);
                }

                _k.Add(x.AsSpan(0, rows * d), o.AsSpan(0, rows * d));
                if (l < _c.NumLayers - 1)
                {
                    Observe(items, rowItem, rowPos, x, l + 1, d);
                }
            }

            // The final norm, then logits for the rows that need them.
            Norm(x, _w.FinalNorm, _w.FinalNormBias, h, rows);
            Observe(items, rowItem, rowPos, h, _c.NumLayers, d);
            int logitRows = 0;
            foreach (var item in items)
            {
                logitRows += item.AllLogits ? item.Tokens.Length : 1;
            }

            var selected = Rent(logitRows * d);
            int sr = 0, first = 0;
            foreach (var item in items)
            {
                int n = item.Tokens.Length;
                int from = item.AllLogits ? first : first + n - 1;
                int count = item.AllLogits ? n : 1;
                h.AsSpan(from * d, count * d).CopyTo(selected.AsSpan(sr * d));
                sr += count;
                first += n;
            }

            // One item's logits go straight into its array; several items' into pooled scratch, then each its own rows.
            int vocab = _c.VocabSize;
            var logits = items.Count == 1 ? ResultArray(items[0], logitRows * vocab) : Rent(logitRows * vocab);
            _k.MatMul(selected, logitRows, _w.Head, [], logits);
            sr = 0;
            foreach (var item in items)
            {
                int count = item.AllLogits ? item.Tokens.Length : 1;
                if (items.Count == 1)
                {
                    item.Logits = logits;
                }
                else
                {
                    var own = ResultArray(item, count * vocab);
                    logits.AsSpan(sr * vocab, count * vocab).CopyTo(own);
                    item.Logits = own;
                }

                sr += count;
                item.Cache.Length += item.Tokens.Length;
            }
        }
        finally
        {
            // The step's scratch goes back to the pool, so decoding and repeated prompts reuse it instead of leaving
            // megabytes of large-object garbage per pass (it made a loaded model's peak memory about 40% above its weights).
            foreach (var a in rented)
            {
                pool.Return(a);
            }
        }
    }

    /// <summary>The item's own logits array when it has exactly <paramref name="length"/> values (reused), else a new one.</summary>
    private static float[] ResultArray(ForwardItem item, int length) => item.Logits.Length == length ? item.Logits : new float[length];

    private void Norm(float[] x, float[] weight, float[] bias, float[] y, int rows)
    {
        int d = _c.HiddenSize;
        for (int t = 0; t < rows; t++)
        {
            if (_c.Family == ModelFamily.Gpt2)
            {
                _k.LayerNorm(x.AsSpan(t * d, d), weight, bias, (float)_c.NormEps, y.AsSpan(t * d, d));
            }
            else
            {
                _k.RmsNorm(x.AsSpan(t * d, d), weight, (float)_c.NormEps, y.AsSpan(t * d, d));
            }
        }
    }

    private static void Observe(IReadOnlyList<ForwardItem> items, int[] rowItem, int[] rowPos, float[] x, int index, int d)
    {
        for (int t = 0; t < rowItem.Length; t++)
        {
            if (items[rowItem[t]].Observer is { } obs && obs.WantsHidden(index))
            {
                obs.Hidden(index, rowPos[t], x.AsSpan(t * d, d));
            }
        }
    }

    private void Attend(IReadOnlyList<ForwardItem> items, int[] rowItem, int[] rowPos, int layer, float[] q, float[] att, int rows)
    {
        int hd = _c.HeadDim, heads = _c.NumHeads, group = heads / _c.NumKvHeads, qWidth = heads * hd, kvWidth = KvWidth;
        float scale = 1f;
        if (_c.Family == ModelFamily.Llama || _c.ScaleAttnWeights)
        {
            scale /= MathF.Sqrt(hd);
        }

        if (_c.Family == ModelFamily.Gpt2 && _c.ScaleAttnByInverseLayerIdx)
        {
            scale /= layer + 1;
        }

        long work = 0;
        for (int t = 0; t < rows; t++)
        {
            work += (long)(rowPos[t] + 1) * heads * hd;
        }

        // One query head of one row: its scores over the row's keys, softmax, and the weighted sum of the values.
        void Head(int t, int hh, float[] scores)
        {
            var item = items[rowItem[t]];
            int pos = rowPos[t];
            int start = _c.LayerWindows.Count > 0 && _c.LayerWindows[layer] is int w ? Math.Max(0, pos - w + 1) : 0;
            int kvh = hh / group;
            var s = scores.AsSpan(0, pos + 1);
            _k.AttendHead(
                q.AsSpan((t * qWidth) + (hh * hd), hd), item.Cache.Keys(layer)[(kvh * hd)..], item.Cache.Values(layer)[(kvh * hd)..],
                kvWidth, start, pos, scale, s, att.AsSpan((t * qWidth) + (hh * hd), hd));
            if (item.Observer is { } obs && obs.WantsAttention(layer))
            {
                s[..start].Clear();
                obs.Attention(layer, hh, pos, s);
            }
        }

        // In parallel over (row, KV head) pairs, so that a single decoding row's heads are shared out too, and the query heads
        // that share a KV head run one after another on one thread, reading its keys and values from that core's cache
        // rather than from memory (batched decoding's caches do not fit in cache together); an observer sees its heads in
        // order, so then everything runs here.
        bool anyObserver = items.Any(i => i.Observer is not null);
        int kvHeads = _c.NumKvHeads;
        int pairs = rows * kvHeads;
        if (_k.Threads == 1 || pairs < 2 || work < ParallelAttentionWork || anyObserver)
        {
            var scores = new float[rowPos.Max() + 1];
            for (int t = 0; t < rows; t++)
            {
                for (int hh = 0; hh < heads; hh++)
                {
                    Head(t, hh, scores);
                }
            }

            return;
        }

        int maxLen = rowPos.Max() + 1;
        _k.ParallelFor(pairs, i =>
        {
            var scores = t_scores;
            if (scores is null || scores.Length < maxLen)
            {
                scores = t_scores = new float[Math.Max(maxLen, 256)];
            }

            int t = i / kvHeads, first = (i % kvHeads) * group;
            for (int hh = first; hh < first + group; hh++)
            {
                Head(t, hh, scores);
            }
        });
    }
}
