namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// Input rows quantized for a <see cref="WeightType.Q8"/> product (<see cref="GemmQ8.QuantizeRows"/>): per token,
/// <see cref="Cols"/> signed values q and their magnitudes |q|, both in the weights' interleaved order
/// (<see cref="GemmQ8.Interleave"/>), and one scale per block of <see cref="WeightMatrix.Q8Block"/>.
/// </summary>
internal readonly unsafe struct Q8Input(sbyte* q, byte* abs, float* scales, int cols)
{
    /// <summary>Signed quantized values, [tokens, Cols].</summary>
    public sbyte* Q { get; } = q;

    /// <summary>|q|, [tokens, Cols].</summary>
    public byte* Abs { get; } = abs;

    /// <summary>Scales, [tokens, Cols / Q8Block].</summary>
    public float* Scales { get; } = scales;

    /// <summary>Values per token.</summary>
    public int Cols { get; } = cols;

    /// <summary>Token <paramref name="t"/>'s row alone.</summary>
    public Q8Input Token(int t) =>
        new(Q + ((long)t * Cols), Abs + ((long)t * Cols), Scales + ((long)t * (Cols / WeightMatrix.Q8Block)), Cols);
}
