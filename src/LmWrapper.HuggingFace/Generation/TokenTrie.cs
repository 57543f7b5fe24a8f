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
    private readonly int[] _height;

    /// <param name="tokenBytes">Each id's bytes (null or empty: the id never matches).</param>
    public TokenTrie(IReadOnlyList<byte[]?> tokenBytes)
        : this(tokenBytes, null)
    {
        // Split off the tokens that are plain string content: inside a string they are all allowed or not by their
        // length alone, so only the others need walking there.
        var plainIds = new List<int>();
        var plainCodePoints = new List<int>();
        var special = new byte[]?[tokenBytes.Count];
        for (int id = 0; id < tokenBytes.Count; id++)
        {
            if (tokenBytes[id] is not { Length: > 0 } bytes)
            {
                continue;
            }

            if (IsPlain(bytes))
            {
                plainIds.Add(id);
                plainCodePoints.Add(bytes.Count(b => (b & 0xC0) != 0x80));
            }
            else
            {
                special[id] = bytes;
            }
        }

        PlainIds = [.. plainIds];
        PlainCodePoints = [.. plainCodePoints];
        Special = new TokenTrie(special, null);
    }

    private TokenTrie(IReadOnlyList<byte[]?> tokenBytes, object? unused)
    {
        _ = unused;
        TokenBytes = tokenBytes;
        PlainIds = [];
        PlainCodePoints = [];

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

        // Heights (the most bytes below a node), children before parents: breadth-first order reversed.
        _height = new int[n];
        for (int i = n - 1; i >= 0; i--)
        {
            for (int e = _childStart[i]; e < _childStart[i] + _childCount[i]; e++)
            {
                _height[i] = Math.Max(_height[i], _height[_edgeNode[e]] + 1);
            }
        }
    }

    /// <summary>
    /// The ids whose bytes are plain string content: whole UTF-8 characters, no quote, backslash or control character.
    /// Empty in <see cref="Special"/>.
    /// </summary>
    public int[] PlainIds { get; }

    /// <summary>The code points of each of <see cref="PlainIds"/>.</summary>
    public int[] PlainCodePoints { get; }

    /// <summary>A trie of the other tokens (null in that trie itself).</summary>
    public TokenTrie? Special { get; }

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

    /// <summary>The most bytes any token has below <paramref name="node"/> (0 at a leaf).</summary>
    public int Height(int node) => _height[node];

    public int EdgeNode(int edge) => _edgeNode[edge];

    private static bool IsPlain(byte[] bytes)
    {
        foreach (byte b in bytes)
        {
            if (b < 0x20 || b == '"' || b == '\\')
            {
                return false;
            }
        }

        return System.Text.Unicode.Utf8.IsValid(bytes);
    }

    /// <summary>The ids whose bytes end exactly at <paramref name="node"/>.</summary>
    public ReadOnlySpan<int> TokensAt(int node) => _tokens.AsSpan(_tokenStart[node], _tokenCount[node]);
}
