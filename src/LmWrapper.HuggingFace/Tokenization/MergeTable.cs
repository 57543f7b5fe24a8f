using System.Numerics;
using System.Runtime.CompilerServices;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>An open-addressing hash map from a token-id pair to its merge rank and merged id.</summary>
internal sealed class MergeTable
{
    private readonly long[] _keys;
    private readonly int[] _ranks;
    private readonly int[] _merged;
    private readonly int _mask;
    private readonly int _shift;

    public MergeTable(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _keys = new long[size];
        Array.Fill(_keys, -1L);
        _ranks = new int[size];
        _merged = new int[size];
        _mask = size - 1;
        _shift = 64 - BitOperations.Log2((uint)size);
    }

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15UL)) >> _shift);

    /// <summary>Sets the merge of (left, right); a later duplicate replaces an earlier one, as in Hugging Face.</summary>
    public void Set(int left, int right, int rank, int merged)
    {
        long key = ((long)left << 32) | (uint)right;
        int slot = Slot(key);
        while (_keys[slot] != -1L && _keys[slot] != key)
        {
            slot = (slot + 1) & _mask;
        }

        if (_keys[slot] == -1L)
        {
            Count++;
        }

        _keys[slot] = key;
        _ranks[slot] = rank;
        _merged[slot] = merged;
    }

    /// <summary>The rank of merging (left, right), or int.MaxValue when they do not merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Rank(int left, int right, out int merged)
    {
        long key = ((long)left << 32) | (uint)right;
        int slot = Slot(key);
        while (true)
        {
            long k = _keys[slot];
            if (k == key)
            {
                merged = _merged[slot];
                return _ranks[slot];
            }

            if (k == -1L)
            {
                merged = -1;
                return int.MaxValue;
            }

            slot = (slot + 1) & _mask;
        }
    }
}
