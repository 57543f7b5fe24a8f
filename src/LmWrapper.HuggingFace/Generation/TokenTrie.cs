namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// A prefix tree over a vocabulary's token bytes, flattened into arrays: walking it together with a parser checks each
/// shared prefix once, instead of every token separately. Tokens without bytes (special or added tokens, ids the
/// tokenizer lacks) are not in it.
/// </summary>
internal sealed class TokenTrie
{
    private readonly int[] _childStart;
    private readonly int[] _childCount;
    private readonly byte[] _edgeByte;
    private readonly int[] _edgeNode;
    private readonly int[] _tokenStart;
    private readonly int[] _tokenCount;
    private readonly int[] _tokens;

    /// <param name="tokenBytes">Each id's bytes (null or empty: the id never matches).</param>
    public TokenTrie(IReadOnlyList<byte[]?> tokenBytes)
    {
        TokenBytes = tokenBytes;

        // Build with per-node sorted dictionaries, then flatten breadth-first so each node's children are contiguous.
        var children = new List<SortedDictionary<byte, int>?> { null };
        var ends = new List<List<int>?> { null };
        for (int id = 0; id < tokenBytes.Count; id++)
        {
            var bytes = tokenBytes[id];
            if (bytes is null || bytes.Length == 0)
            {
                continue;
            }

            int node = 0;
            foreach (byte b in bytes)
            {
                var map = children[node] ??= [];
                if (!map.TryGetValue(b, out int child))
                {
                    child = children.Count;
                    children.Add(null);
                    ends.Add(null);
                    map[b] = child;
                }

                node = child;
            }

            (ends[node] ??= []).Add(id);
            MaxTokenLength = Math.Max(MaxTokenLength, bytes.Length);
        }

        int n = children.Count;
        NodeCount = n;
        var order = new int[n];
        var position = new int[n];
        int head = 0, tail = 0;
        order[tail++] = 0;
        while (head < tail)
        {
            int node = order[head++];
            if (children[node] is { } map)
            {
                foreach (var child in map.Values)
                {
                    order[tail++] = child;
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            position[order[i]] = i;
        }

        _childStart = new int[n];
        _childCount = new int[n];
        _tokenStart = new int[n];
        _tokenCount = new int[n];
        _edgeByte = new byte[Math.Max(0, n - 1)];
        _edgeNode = new int[Math.Max(0, n - 1)];
        var tokens = new List<int>();
        int edges = 0;
        for (int i = 0; i < n; i++)
        {
            int node = order[i];
            _childStart[i] = edges;
            if (children[node] is { } map)
            {
                foreach (var (b, child) in map)
                {
                    _edgeByte[edges] = b;
                    _edgeNode[edges] = position[child];
                    edges++;
                }
            }

            _childCount[i] = edges - _childStart[i];
            _tokenStart[i] = tokens.Count;
            if (ends[node] is { } ids)
            {
                tokens.AddRange(ids);
            }

            _tokenCount[i] = tokens.Count - _tokenStart[i];
        }

        _tokens = [.. tokens];
    }

    /// <summary>Each id's bytes, as given.</summary>
    public IReadOnlyList<byte[]?> TokenBytes { get; }

    /// <summary>The number of ids (the table's length).</summary>
    public int IdCount => TokenBytes.Count;

    public int NodeCount { get; }

    public int MaxTokenLength { get; }

    /// <summary>The root node.</summary>
    public static int Root => 0;

    /// <summary>The children of <paramref name="node"/>: edges [start, start + count) for <see cref="EdgeByte"/>/<see cref="EdgeNode"/>.</summary>
    public (int Start, int Count) Children(int node) => (_childStart[node], _childCount[node]);

    public byte EdgeByte(int edge) => _edgeByte[edge];

    public int EdgeNode(int edge) => _edgeNode[edge];

    /// <summary>The ids whose bytes end exactly at <paramref name="node"/>.</summary>
    public ReadOnlySpan<int> TokensAt(int node) => _tokens.AsSpan(_tokenStart[node], _tokenCount[node]);
}
