namespace LmWrapper.HuggingFace;

/// <summary>How a <see cref="HuggingFaceLm"/> stores its matrices in memory.</summary>
public enum WeightQuantization
{
    /// <summary>As the checkpoint has them (F32, F16 or BF16).</summary>
    None,

    /// <summary>
    /// 8-bit integers with a float32 scale per block of 32 values (llama.cpp's Q8_0), inputs quantized the same way
    /// for integer dot products: about a quarter of the F32 memory and faster decoding, at a small cost in precision
    /// (matrices whose width is not a multiple of 32 stay as they are). Outputs differ slightly from the unquantized
    /// model's, so the model identity (and the cache) tells them apart.
    /// </summary>
    Int8,
}
