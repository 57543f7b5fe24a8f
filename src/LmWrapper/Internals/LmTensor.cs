namespace LmWrapper.Internals;

/// <summary>A dense float32 tensor, row-major: a model's hidden states or attention weights.</summary>
public sealed class LmTensor
{
    private readonly float[] _data;
    private readonly int[] _shape;

    /// <summary>Creates a tensor over <paramref name="data"/> (not copied).</summary>
    /// <param name="data">The values, row-major.</param>
    /// <param name="shape">The dimensions; their product must equal the data's length.</param>
    public LmTensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (int s in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(s, nameof(shape));
            n *= s;
        }

        if (n != data.Length)
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has {n} elements but the data has {data.Length}.", nameof(data));
        }

        _data = data;
        _shape = [.. shape];
    }

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Span => _data;

    /// <summary>The element at a 2-D index.</summary>
    /// <param name="i">Row.</param>
    /// <param name="j">Column.</param>
    public float this[int i, int j] => _data[Offset(i, j)];

    /// <summary>The element at a 3-D index.</summary>
    /// <param name="i">First index.</param>
    /// <param name="j">Second index.</param>
    /// <param name="k">Third index.</param>
    public float this[int i, int j, int k] => _data[Offset(i, j, k)];

    /// <summary>A copy of the values.</summary>
    public float[] ToArray() => (float[])_data.Clone();

    /// <summary>One row of a 2-D tensor (or the last dimension at a 3-D prefix), without a copy.</summary>
    /// <param name="index">The leading indices.</param>
    public ReadOnlySpan<float> Row(params int[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length != _shape.Length - 1)
        {
            throw new ArgumentException($"A row of a {_shape.Length}-D tensor takes {_shape.Length - 1} indices.", nameof(index));
        }

        int offset = 0;
        for (int d = 0; d < index.Length; d++)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index[d], (uint)_shape[d], nameof(index));
            offset = (offset * _shape[d]) + index[d];
        }

        int last = _shape[^1];
        return _data.AsSpan(offset * last, last);
    }

    /// <inheritdoc/>
    public override string ToString() => $"LmTensor[{string.Join(", ", _shape)}]";

    private int Offset(params int[] index)
    {
        if (index.Length != _shape.Length)
        {
            throw new ArgumentException($"This tensor has {_shape.Length} dimensions, not {index.Length}.");
        }

        int offset = 0;
        for (int d = 0; d < index.Length; d++)
        {
            if ((uint)index[d] >= (uint)_shape[d])
            {
                throw new IndexOutOfRangeException($"Index {index[d]} is outside dimension {d} of size {_shape[d]}.");
            }

            offset = (offset * _shape[d]) + index[d];
        }

        return offset;
    }
}
