namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's name, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</param>
/// <param name="DType">Its element type.</param>
/// <param name="Shape">Its dimensions (empty for a scalar).</param>
/// <param name="DataBegin">Where its bytes start, relative to the end of the header.</param>
/// <param name="DataEnd">Where its bytes end (exclusive), relative to the end of the header.</param>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, IReadOnlyList<long> Shape, long DataBegin, long DataEnd)
{
    /// <summary>The number of elements (the product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The number of bytes of data.</summary>
    public long ByteLength => DataEnd - DataBegin;
}
