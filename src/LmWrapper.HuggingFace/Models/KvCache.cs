namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// One sequence's keys and values for every layer (after RoPE), grown as tokens are added. Cloning one after the prompt
/// lets several samples share a single prompt pass.
/// </summary>
internal sealed class KvCache
{
    private readonly int _width;

    public KvCache(int layers, int width, int capacity)
    {
        _width = width;
        Capacity = Math.Max(1, capacity);
        Keys = new float[layers][];
        Values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            Keys[l] = new float[Capacity * width];
            Values[l] = new float[Capacity * width];
        }
    }

    private KvCache(KvCache other)
    {
        _width = other._width;
        Capacity = other.Capacity;
        Length = other.Length;
        Keys = new float[other.Keys.Length][];
        Values = new float[other.Values.Length][];
        for (int l = 0; l < Keys.Length; l++)
        {
            Keys[l] = (float[])other.Keys[l].Clone();
            Values[l] = (float[])other.Values[l].Clone();
        }
    }

    /// <summary>Per layer: [Capacity, KV heads × head size] keys.</summary>
    public float[][] Keys { get; }

    /// <summary>Per layer: [Capacity, KV heads × head size] values.</summary>
    public float[][] Values { get; }

    /// <summary>Tokens stored.</summary>
    public int Length { get; set; }

    /// <summary>Tokens that fit before the arrays grow.</summary>
    public int Capacity { get; private set; }

    /// <summary>A deep copy.</summary>
    public KvCache Clone() => new(this);

    /// <summary>Makes room for <paramref name="tokens"/> tokens in all.</summary>
    public void EnsureCapacity(int tokens)
    {
        if (tokens <= Capacity)
        {
            return;
        }

        int capacity = Math.Max(tokens, Capacity * 2);
        for (int l = 0; l < Keys.Length; l++)
        {
            Array.Resize(ref Keys[l], capacity * _width);
            Array.Resize(ref Values[l], capacity * _width);
        }

        Capacity = capacity;
    }
}
