using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>
/// The BPE model of a tokenizer.json, with Hugging Face's exact merge order (lowest rank first,
/// leftmost on ties), byte fallback, unknown-token fusing, ignore_merges, continuing-subword prefix
/// and end-of-word suffix. Results per word are cached (keyed by the word's text before byte mapping).
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 200_000;
    private const int SimpleMergeLimit = 64;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabLookup;
    private readonly string?[] _idToToken;
    private readonly int[] _singleCharIds; // BMP char → id of the one-char token, or -1
    private readonly int[] _byteFallbackIds; // byte → id of <0xNN>, or -1
    private readonly MergeTable _merges;
    private readonly int _unkId = -1;
    private readonly bool _fuseUnk;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly string _prefix;
    private readonly string _suffix;
    private readonly bool _byteLevel;
    private readonly ConcurrentDictionary<string, BpeWord> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, BpeWord>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private int _cacheCount;

    private BpeModel(Dictionary<string, int> vocab, MergeTable merges, string? unk, bool fuseUnk, bool byteFallback,
        bool ignoreMerges, string prefix, string suffix, bool byteLevel)
    {
        _vocab = vocab;
        _vocabLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        _prefix = prefix;
        _suffix = suffix;
        _byteLevel = byteLevel;
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        int maxId = vocab.Count == 0 ? -1 : vocab.Values.Max();
        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in vocab)
        {
            _idToToken[id] = token;
        }

        _singleCharIds = new int[65536];
        Array.Fill(_singleCharIds, -1);
        foreach (var (token, id) in vocab)
        {
            if (token.Length == 1)
            {
                _singleCharIds[token[0]] = id;
            }
        }

        _byteFallbackIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteFallbackIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }

        // (With ignore_merges the whole piece is looked up first, so cutting it would not be exact.)
        CanSplitBeforeMetaspace = !byteLevel && !ignoreMerges && prefix.Length == 0 && suffix.Length == 0
            && !vocab.Keys.Any(HasInnerMetaspace);

        if (unk is not null)
        {
            if (!vocab.TryGetValue(unk, out _unkId))
            {
                throw new FormatException($"tokenizer.json: the BPE unk_token '{unk}' is not in the vocabulary.");
            }
        }
    }

    /// <summary>
    /// Whether no token has a ▁ right after another char: then no merge can cross the boundary
    /// before a ▁ that follows a non-▁ char, and text can be cut there into words (exactly the same
    /// result, but cacheable and linear). True for SentencePiece-style vocabularies like Llama-2's.
    /// </summary>
    public bool CanSplitBeforeMetaspace { get; private set; }

    /// <summary>The number of entries in the model's vocabulary.</summary>
    public int VocabCount => _vocab.Count;

    /// <summary>One past the largest id in the model's vocabulary.</summary>
    public int IdLimit => _idToToken.Length;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public static BpeModel FromJson(JsonElement model, bool byteLevel)
    {
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (type != "BPE")
        {
            throw JsonUtil.Unsupported("model", type, "BPE");
        }

        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
        {
            throw new NotSupportedException("tokenizer.json model: BPE dropout is random and is not supported by LmWrapper's HuggingFaceTokenizer.");
        }

        var vocabJson = model.GetProperty("vocab");
        var vocab = new Dictionary<string, int>(vocabJson.EnumerateObject().Count(), StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }

        string prefix = JsonUtil.OptionalString(model, "continuing_subword_prefix") ?? "";
        string suffix = JsonUtil.OptionalString(model, "end_of_word_suffix") ?? "";
        var mergesJson = model.TryGetProperty("merges", out var m) && m.ValueKind == JsonValueKind.Array ? m : default;
        int mergeCount = mergesJson.ValueKind == JsonValueKind.Array ? mergesJson.GetArrayLength() : 0;
        var merges = new MergeTable(mergeCount);
        if (mergeCount > 0)
        {
            int rank = 0;
            foreach (var merge in mergesJson.EnumerateArray())
            {
                string a, b;
                if (merge.ValueKind == JsonValueKind.String)
                {
                    string line = merge.GetString()!;
                    (a, b) = SplitMergeLine(line, vocab);
                }
                else
                {
                    a = merge[0].GetString()!;
                    b = merge[1].GetString()!;
                }

                string merged = prefix.Length > 0 && b.StartsWith(prefix, StringComparison.Ordinal) ? a + b[prefix.Length..] : a + b;
                if (!vocab.TryGetValue(a, out int ida) || !vocab.TryGetValue(b, out int idb) || !vocab.TryGetValue(merged, out int idm))
                {
                    throw new FormatException($"tokenizer.json: the merge '{a} {b}' uses a token that is not in the vocabulary.");
                }

                merges.Set(ida, idb, rank, idm);
                rank++;
            }
        }

        return new BpeModel(
            vocab,
            merges,
            JsonUtil.OptionalString(model, "unk_token"),
            JsonUtil.Bool(model, "fuse_unk", false),
            JsonUtil.Bool(model, "byte_fallback", false),
            JsonUtil.Bool(model, "ignore_merges", false),
            prefix,
            suffix,
            byteLevel);
    }

    /// <summary>
    /// Splits a legacy "a b" merge line. Some vocabularies (Meta's Llama-2) hold tokens made of
    /// spaces, so a line with several spaces is split where both halves and their join are tokens.
    /// </summary>
    private static (string A, string B) SplitMergeLine(string line, Dictionary<string, int> vocab)
    {
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0 && line.IndexOf(' ', space + 1) < 0)
        {
            return (line[..space], line[(space + 1)..]);
        }

        for (int i = line.IndexOf(' ', StringComparison.Ordinal); i >= 0; i = line.IndexOf(' ', i + 1))
        {
            string a = line[..i], b = line[(i + 1)..];
            if (a.Length > 0 && b.Length > 0 && vocab.ContainsKey(a) && vocab.ContainsKey(b) && vocab.ContainsKey(a + b))
            {
                return (a, b);
            }
        }

        throw new FormatException($"tokenizer.json: the merge '{line}' is not two vocabulary tokens separated by a space.");
    }

    /// <summary>
    /// Tokenizes one word, appending ids and, when <paramref name="ends"/> is given, each token's end
    /// in the word's units (UTF-8 bytes for byte-level models, UTF-16 chars otherwise).
    /// </summary>
    public void Encode(ReadOnlySpan<char> word, List<int> ids, List<int>? ends)
    {
        if (word.IsEmpty)
        {
            return;
        }

        bool cacheable = word.Length <= MaxCachedWordLength;
        if (!cacheable || !_cacheLookup.TryGetValue(word, out var result))
        {
            result = _byteLevel ? EncodeByteLevel(word) : EncodeUnits(word);
            if (cacheable && _cacheCount < MaxCacheEntries && _cacheLookup.TryAdd(word, result))
            {
                Interlocked.Increment(ref _cacheCount);
            }
        }

        if (result.Ids.Length == 1)
        {
            ids.Add(result.Ids[0]);
        }
        else
        {
            ids.AddRange(result.Ids);
        }

        ends?.AddRange(result.Ends);
    }

    private BpeWord EncodeByteLevel(ReadOnlySpan<char> word)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(word.Length);
        byte[]? rentedBytes = null;
        char[]? rentedChars = null;
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            int n = Encoding.UTF8.GetBytes(word, bytes);
            Span<char> mapped = n <= 1024 ? stackalloc char[n] : (rentedChars = ArrayPool<char>.Shared.Rent(n)).AsSpan(0, n);
            for (int i = 0; i < n; i++)
            {
                mapped[i] = ByteLevelTables.ByteToChar[bytes[i]];
            }

            return EncodeUnits(mapped);
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }

            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    private static bool HasInnerMetaspace(string token)
    {
        for (int i = 1; i < token.Length; i++)
        {
            if (token[i] == '\u2581' && token[i - 1] != '\u2581')
            {
                return true;
            }
        }

        return false;
    }

    private int Lookup(ReadOnlySpan<char> s) => _vocabLookup.TryGetValue(s, out int id) ? id : -1;

    private BpeWord EncodeUnits(ReadOnlySpan<char> word)
    {
        if (_ignoreMerges)
        {
            int whole = Lookup(word);
            if (whole >= 0)
            {
                return new BpeWord([whole], [word.Length]);
            }
        }

        // Byte fallback can turn one char into up to 3 byte tokens (4 for a surrogate pair).
        int capacity = _byteFallback ? word.Length * 3 : word.Length;
        var ids = new int[capacity];
        var ends = new int[capacity];
        int count = 0;
        bool pendingUnk = false;
        bool affixes = _prefix.Length > 0 || _suffix.Length > 0;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            int end = i + len;
            int id;
            if (!affixes)
            {
                id = len == 1 ? _singleCharIds[word[i]] : Lookup(word.Slice(i, 2));
            }
            else
            {
                string s = (i > 0 ? _prefix : "") + word.Slice(i, len).ToString() + (end == word.Length ? _suffix : "");
                id = _vocab.TryGetValue(s, out int found) ? found : -1;
            }

            if (id >= 0)
            {
                ids[count] = id;
                ends[count] = end;
                count++;
                pendingUnk = false;
                i = end;
                continue;
            }

            if (_byteFallback)
            {
                int nb = Encoding.UTF8.GetBytes(word.Slice(i, len), utf8);
                bool all = true;
                for (int k = 0; k < nb; k++)
                {
                    all &= _byteFallbackIds[utf8[k]] >= 0;
                }

                if (all)
                {
                    for (int k = 0; k < nb; k++)
                    {
                        ids[count] = _byteFallbackIds[utf8[k]];
                        ends[count] = end;
                        count++;
                    }

                    pendingUnk = false;
                    i = end;
                    continue;
                }
            }

            if (_unkId >= 0)
            {
                if (_fuseUnk && pendingUnk)
                {
                    ends[count - 1] = end;
                }
                else
                {
                    ids[count] = _unkId;
                    ends[count] = end;
                    count++;
                    pendingUnk = true;
                }
            }

            // Without an unknown token Hugging Face drops the char.
            i = end;
        }

        if (count > SimpleMergeLimit)
        {
            count = MergeWithHeap(ids, ends, count);
        }
        else
        {
            count = MergeSimple(ids, ends, count);
        }

        return new BpeWord(ids[..count], ends[..count]);
    }

    /// <summary>Repeatedly merges the lowest-ranked (then leftmost) pair; fine for short words.</summary>
    private int MergeSimple(int[] ids, int[] ends, int count)
    {
        if (count < 2)
        {
            return count;
        }

        Span<int> ranks = stackalloc int[count];
        Span<int> merged = stackalloc int[count];
        for (int i = 0; i < count - 1; i++)
        {
            ranks[i] = _merges.Rank(ids[i], ids[i + 1], out merged[i]);
        }

        while (count > 1)
        {
            int best = int.MaxValue, at = -1;
            for (int i = 0; i < count - 1; i++)
            {
                if (ranks[i] < best)
                {
                    best = ranks[i];
                    at = i;
                }
            }

            if (at < 0)
            {
                break;
            }

            ids[at] = merged[at];
            ends[at] = ends[at + 1];
            for (int k = at + 1; k < count - 1; k++)
            {
                ids[k] = ids[k + 1];
                ends[k] = ends[k + 1];
                ranks[k] = ranks[k + 1];
                merged[k] = merged[k + 1];
            }

            count--;
            if (at > 0)
            {
                ranks[at - 1] = _merges.Rank(ids[at - 1], ids[at], out merged[at - 1]);
            }

            if (at < count - 1)
            {
                ranks[at] = _merges.Rank(ids[at], ids[at + 1], out merged[at]);
            }
        }

        return count;
    }

    /// <summary>Hugging Face's priority-queue merge over a linked list; O(n log n) for long words.</summary>
    private int MergeWithHeap(int[] ids, int[] ends, int count)
    {
        var prev = new int[count];
        var next = new int[count];
        var removed = new bool[count];
        var queue = new PriorityQueue<int, long>(count);
        for (int i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            if (i + 1 < count)
            {
                int r = _merges.Rank(ids[i], ids[i + 1], out _);
                if (r != int.MaxValue)
                {
                    queue.Enqueue(i, ((long)r << 32) | (uint)i);
                }
            }
        }

        while (queue.TryDequeue(out int pos, out long priority))
        {
            int rank = (int)(priority >> 32);
            if (removed[pos])
            {
                continue;
            }

            int right = next[pos];
            if (right < 0)
            {
                continue;
            }

            if (_merges.Rank(ids[pos], ids[right], out int newId) != rank)
            {
                continue; // stale entry
            }

            ids[pos] = newId;
            ends[pos] = ends[right];
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }

            if (prev[pos] >= 0)
            {
                int p = prev[pos];
                int r = _merges.Rank(ids[p], ids[pos], out _);
                if (r != int.MaxValue)
                {
                    queue.Enqueue(p, ((long)r << 32) | (uint)p);
                }
            }

            if (next[pos] >= 0)
            {
                int r = _merges.Rank(ids[pos], ids[next[pos]], out _);
                if (r != int.MaxValue)
                {
                    queue.Enqueue(pos, ((long)r << 32) | (uint)pos);
                }
            }
        }

        int w = 0;
        for (int i = 0; i >= 0; i = next[i])
        {
            ids[w] = ids[i];
            ends[w] = ends[i];
            w++;
        }

        return w;
    }
}

/// <summary>A word's tokens: ids and each token's end (in the word's units).</summary>
internal sealed record BpeWord(int[] Ids, int[] Ends);
