using System.Runtime.InteropServices;

namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// One sequence's keys and values for every layer (after RoPE), grown as tokens are added. Cloning one after the prompt
/// lets several samples share a single prompt pass.
/// </summary>
/// <remarks>
/// The keys and values live in one native block ([layer][keys, values][capacity][width] floats), freed by
/// <see cref="Dispose"/> as soon as a generation ends. As managed arrays they outlived their request as large-object
/// garbage until the next full collection, so a long prompt's cache (28 MB for 600 tokens of a 135M Llama) was still
/// resident while the next request built its own, and the process's peak held both. The finalizer frees a cache that
/// nobody disposed.
/// </remarks>
internal sealed unsafe class KvCache : IDisposable
{
    private readonly int _layers;
    private readonly int _width;
    private float* _data;
    private long _bytes;

    public KvCache(int layers, int width, int capacity)
    {
        _layers = layers;
        _width = width;
        Capacity = Math.Max(1, capacity);
        _data = Allocate(layers, width, Capacity, out _bytes);
        Made.Value?.Add(this);
    }

    ~KvCache() => Free();

    /// <summary>Where set (tests), every cache made on this async flow is added to the list.</summary>
    internal static AsyncLocal<List<KvCache>?> Made { get; } = new();

    /// <summary>Whether <see cref="Dispose"/> has freed the block.</summary>
    public bool IsDisposed => _data is null;

    /// <summary>Tokens stored.</summary>
    public int Length { get; set; }

    /// <summary>Tokens that fit before the block grows.</summary>
    public int Capacity { get; private set; }

    /// <summary>Layer <paramref name="layer"/>'s [Capacity, KV heads × head size] keys.</summary>
    public Span<float> Keys(int layer) => Block(layer, 0);

    /// <summary>Layer <paramref name="layer"/>'s [Capacity, KV heads × head size] values.</summary>
    public Span<float> Values(int layer) => Block(layer, 1);

    /// <summary>A deep copy (the stored tokens; the same capacity).</summary>
    public KvCache Clone()
    {
        var copy = new KvCache(_layers, _width, Capacity) { Length = Length };
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>Makes room for <paramref name="tokens"/> tokens in all.</summary>
    public void EnsureCapacity(int tokens)
    {
        if (tokens <= Capacity)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_data is null, this);
        int capacity = Math.Max(tokens, Capacity * 2);
        float* oldData = _data;
        long oldBytes = _bytes;
        int oldCapacity = Capacity;
        _data = Allocate(_layers, _width, capacity, out _bytes);
        Capacity = capacity;
        for (int l = 0; l < _layers; l++)
        {
            for (int kv = 0; kv < 2; kv++)
            {
                long words = (long)Length * _width;
                Buffer.MemoryCopy(oldData + ((((long)l * 2) + kv) * oldCapacity * _width), _data + ((((long)l * 2) + kv) * capacity * _width), words * sizeof(float), words * sizeof(float));
            }
        }

        NativeMemory.AlignedFree(oldData);
        GC.RemoveMemoryPressure(Math.Max(oldBytes, 1));
    }

    /// <summary>Frees the block; the cache cannot be used afterwards.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private Span<float> Block(int layer, int kv)
    {
        ObjectDisposedException.ThrowIf(_data is null, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)layer, (uint)_layers, nameof(layer));
        return new Span<float>(_data + ((((long)layer * 2) + kv) * Capacity * _width), checked(Capacity * _width));
    }

    private void CopyFrom(KvCache other)
    {
        long words = (long)other.Length * _width;
        for (int l = 0; l < _layers; l++)
        {
            other.Keys(l)[..(int)words].CopyTo(Keys(l));
            other.Values(l)[..(int)words].CopyTo(Values(l));
        }
    }

    private static float* Allocate(int layers, int width, int capacity, out long bytes)
    {
        bytes = checked(2L * layers * capacity * width * sizeof(float));
        var p = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
        GC.AddMemoryPressure(Math.Max(bytes, 1));
        return p;
    }

    private void Free()
    {
        var p = _data;
        if (p is null)
        {
            return;
        }

        _data = null;
        NativeMemory.AlignedFree(p);
        GC.RemoveMemoryPressure(Math.Max(_bytes, 1));
    }
}
