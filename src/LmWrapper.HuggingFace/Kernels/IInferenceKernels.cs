namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The numeric building blocks of a forward pass. The transformer code calls only these, so a faster backend (packed
/// GEMM tiles, quantized weights, another device) replaces this one interface. Every method computes each output row
/// from its own input row alone, in a fixed order, so a row's result does not depend on what else is in the batch.
/// </summary>
internal interface IInferenceKernels
{
    /// <summary>How many threads a large operation may use.</summary>
    int Threads { get; }

    /// <summary>
    /// <c>y[t, o] = dot(w[o, :], x[t, :]) + bias[o]</c> for <paramref name="tokens"/> input rows: x is
    /// [tokens, w.Cols], y is [tokens, w.Rows]; an empty <paramref name="bias"/> means none.
    /// </summary>
    void MatMul(ReadOnlySpan<float> x, int tokens, WeightMatrix w, ReadOnlySpan<float> bias, Span<float> y);

    /// <summary>
    /// Several products of the same input at once (a layer's q, k and v projections, or its gate and up projections):
    /// <c>ys[m] = x · ws[m]ᵀ + biases[m]</c>, each exactly as <see cref="MatMul"/> computes it, in one parallel step (one
    /// hand-out of work instead of one per matrix; a decode step runs a few hundred of these short steps).
    /// </summary>
    void MatMulShared(ReadOnlySpan<float> x, int tokens, ReadOnlySpan<WeightMatrix> ws, ReadOnlySpan<float[]> biases, ReadOnlySpan<float[]> ys);

    /// <summary>RMSNorm of one row: <c>y = x / sqrt(mean(x²) + eps) * weight</c>.</summary>
    void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y);

    /// <summary>LayerNorm of one row: <c>y = (x - mean) / sqrt(var + eps) * weight + bias</c> (biased variance).</summary>
    void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y);

    /// <summary>Softmax of one row, in place.</summary>
    void Softmax(Span<float> x);

    /// <summary>GPT-2's tanh-approximated GELU, in place.</summary>
    void GeluNew(Span<float> x);

    /// <summary><c>gate = silu(gate) * up</c>, element-wise (SwiGLU).</summary>
    void SiluMul(Span<float> gate, ReadOnlySpan<float> up);

    /// <summary>The dot product of two rows.</summary>
    float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b);

    /// <summary><c>y += a * x</c>.</summary>
    void AddScaled(Span<float> y, ReadOnlySpan<float> x, float a);

    /// <summary><c>y += x</c>.</summary>
    void Add(Span<float> y, ReadOnlySpan<float> x);

    /// <summary>
    /// One attention head for one query: <c>scores[j] = q · keys[j] × scale</c> for j in [start, end], softmax over them,
    /// and <c>output = Σ scores[j] · values[j]</c>. Key and value j start at <c>j × stride</c>; each is <c>q.Length</c>
    /// wide. <paramref name="scores"/> holds at least end + 1 values; entries before start are left alone.
    /// </summary>
    void AttendHead(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int stride, int start, int end, float scale, Span<float> scores, Span<float> output);

    /// <summary>Runs <paramref name="body"/> for each index in [0, count) on the kernels' threads.</summary>
    void ParallelFor(int count, Action<int> body);
}
