using LmWrapper.Caching;

namespace LmWrapper.Batching;

/// <summary>
/// The requests of one run, read by position without an object per request: a run may hold a million, and the batch
/// orchestration keeps only a few bytes of its own per request.
/// </summary>
internal interface IUncachedRequestTable
{
    /// <summary>How many requests.</summary>
    int Count { get; }

    /// <summary>How many of the run's prompts the cache answered (for progress reports).</summary>
    int CachedPrompts { get; }

    /// <summary>The prompt of request <paramref name="request"/>.</summary>
    LmPrompt PromptAt(int request);

    /// <summary>How many new samples request <paramref name="request"/> needs.</summary>
    int NumCompletionsAt(int request);

    /// <summary>The request's cache key, when its prompt uses the cache.</summary>
    bool TryGetKey(int request, out CacheKey key);

    /// <summary>The <see cref="LmUncachedResult.Index"/> that answers request <paramref name="request"/>.</summary>
    int ResultIndexAt(int request);

    /// <summary>The position of the request with this cache key, or -1.</summary>
    int IndexOf(CacheKey key);
}

/// <summary>An <see cref="IUncachedRequestTable"/> over any list of requests (a provider may pass its own list).</summary>
internal sealed class UncachedRequestList : IUncachedRequestTable
{
    private readonly IReadOnlyList<LmUncachedRequest> _requests;
    private CacheKey[]? _sortedKeys;
    private int[]? _sortedPositions;

    public UncachedRequestList(IReadOnlyList<LmUncachedRequest> requests, int cachedPrompts)
    {
        _requests = requests;
        CachedPrompts = cachedPrompts;
    }

    public int Count => _requests.Count;

    public int CachedPrompts { get; }

    public LmPrompt PromptAt(int request) => _requests[request].Prompt;

    public int NumCompletionsAt(int request) => _requests[request].NumCompletions;

    public bool TryGetKey(int request, out CacheKey key)
    {
        var k = _requests[request].CacheKey;
        key = k.GetValueOrDefault();
        return k.HasValue;
    }

    public int ResultIndexAt(int request) => _requests[request].Index;

    public int IndexOf(CacheKey key)
    {
        if (_sortedKeys is null)
        {
            var keys = new List<CacheKey>();
            var positions = new List<int>();
            for (int i = 0; i < _requests.Count; i++)
            {
                if (_requests[i].CacheKey is { } k)
                {
                    keys.Add(k);
                    positions.Add(i);
                }
            }

            var sortedKeys = keys.ToArray();
            var sortedPositions = positions.ToArray();
            Array.Sort(sortedKeys, sortedPositions);
            _sortedPositions = sortedPositions;
            _sortedKeys = sortedKeys;
        }

        int at = Array.BinarySearch(_sortedKeys, key);
        return at >= 0 ? _sortedPositions![at] : -1;
    }
}
