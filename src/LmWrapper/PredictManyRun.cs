using System.Collections;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.Serialization;

namespace LmWrapper;

/// <summary>
/// The state of one <see cref="LanguageModel.PredictManyAsync"/> run, in arrays indexed by prompt, group and request
/// rather than in objects: a run of a million prompts holds about 60 bytes of its own per prompt.
/// </summary>
/// <remarks>
/// Prompts with the same cache key form one group and are sent once; a group whose samples the cache lacks becomes a
/// request. Groups are numbered by their first prompt and requests by their group, so both go out in input order.
/// The planning thread builds everything. During the run the pump is the only writer of the flags and of the new samples
/// of the groups it answers, the decoder (<see cref="DecodeCachedAsync"/>) the only writer of their cached samples, and
/// the consumer reads a group only once its done flag and its decoded window are published.
/// </remarks>
internal sealed class PredictManyRun : IReadOnlyList<LmUncachedRequest>, IUncachedRequestTable
{
    private const byte Pending = 1; // waits for the provider
    private const byte Answered = 2; // the provider's first answer is in (a second one is ignored)
    private const byte Done = 4; // answered and stored: the consumer may read the slot
    private const byte Shared = 8; // more than one prompt reads the slot

    private readonly LmPrompt[] _prompts;
    private readonly CacheKey[]? _keys; // by prompt; null when no prompt uses the cache
    private readonly bool[]? _unkeyed; // by prompt; null when every prompt uses the cache
    private readonly int[] _groupOf; // prompt → group
    private readonly object?[] _slots; // group → its LmPrediction (one sample) or LmPrediction?[] (several)
    private readonly byte[] _flags; // group → Pending | Answered | Done | Shared
    private readonly int[] _requestGroup; // request → group
    private readonly int[] _requestPrompt; // request → the group's first prompt
    private readonly int[] _requestSamples; // request → samples the provider must produce
    private readonly int[] _requestsByKey; // keyed requests, sorted by key

    // The cached samples, found by planning (index only) and read and decoded in input order by DecodeCachedAsync, a
    // window at a time, so that a run of a million cached prompts never holds a million predictions.
    private readonly int[]? _foundStart; // group → its first entry below (groups + 1 offsets); null when nothing was cached
    private readonly int[]? _foundSample; // entry → sample index
    private readonly long[]? _foundRow; // entry → the cache row holding it
    private readonly int[]? _groupFirst; // group → its first prompt (where something was cached)
    private int _decoded; // groups below this have their cached samples in their slots
    private int _consumed; // groups below this have been handed to the caller (or are being)
    private readonly DoneSignal _consumerMoved = new();

    /// <summary>Plans a run: computes keys, groups duplicates, finds what the cache holds and lists the requests.</summary>
    /// <param name="prompts">The validated prompts (the array becomes the run's).</param>
    /// <param name="modelIdentity">The model's identity, for cache keys.</param>
    /// <param name="usesCache">Whether a prompt reads and writes the cache.</param>
    /// <param name="cache">The cache (opened only when some prompt uses it).</param>
    public PredictManyRun(LmPrompt[] prompts, string modelIdentity, Func<LmPrompt, bool> usesCache, Func<LmCache> cache)
    {
        _prompts = prompts;
        int n = prompts.Length;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = n >= ParallelThreshold ? Environment.ProcessorCount : 1 };

        // 1. Keys: hashing is pure work on each prompt, spread over the cores for big runs.
        bool[] unkeyed = new bool[n];
        int keyedCount = 0;
        for (int i = 0; i < n; i++)
        {
            unkeyed[i] = !usesCache(prompts[i]);
            keyedCount += unkeyed[i] ? 0 : 1;
        }

        _unkeyed = keyedCount == n ? null : unkeyed;
        int[] order = new int[keyedCount]; // keyed prompts, then sorted by key
        if (keyedCount > 0)
        {
            var keys = new CacheKey[n];
            Parallel.For(0, n, parallel, i =>
            {
                if (!unkeyed[i])
                {
                    keys[i] = CacheKey.Compute(modelIdentity, prompts[i]);
                }
            });
            _keys = keys;
            for (int i = 0, k = 0; i < n; i++)
            {
                if (!unkeyed[i])
                {
                    order[k++] = i;
                }
            }

            Array.Sort(order, new KeyOrder(keys));
        }

        // 2. Groups: prompts with one key share a group, numbered by first appearance. First each prompt points at its
        // group's first prompt (a run's smallest index), then those pointers become group numbers.
        _groupOf = new int[n];
        for (int i = 0; i < n; i++)
        {
            _groupOf[i] = i;
        }

        int distinct = 0;
        for (int a = 0; a < order.Length;)
        {
            int b = a + 1;
            int first = order[a];
            while (b < order.Length && _keys![order[b]] == _keys[order[a]])
            {
                first = Math.Min(first, order[b]);
                b++;
            }

            for (int j = a; j < b; j++)
            {
                _groupOf[order[j]] = first;
            }

            order[distinct++] = first; // keeps one prompt per key, still in key order
            a = b;
        }

        int groups = 0;
        for (int i = 0; i < n; i++)
        {
            int first = _groupOf[i];
            _groupOf[i] = first == i ? groups++ : _groupOf[first]; // first < i was renumbered already
        }

        _slots = new object?[groups];
        _flags = new byte[groups];
        for (int i = 0; i < n; i++)
        {
            int g = _groupOf[i];
            int want = prompts[i].NumCompletions;
            if (_flags[g] == 0)
            {
                _flags[g] = Pending; // marks "seen"; cleared below where the cache holds every sample
            }
            else
            {
                _flags[g] |= Shared;
            }

            if (want > 1 && (_slots[g] is not LmPrediction?[] wide || wide.Length < want))
            {
                var wider = new LmPrediction?[want];
                (_slots[g] as LmPrediction?[])?.CopyTo(wider, 0);
                _slots[g] = wider;
            }
        }

        // 3. The cache, looked up in key order so that consecutive lookups walk neighbouring pages of its index. Only
        // the index is read here; payloads are read and decoded as the caller gets near them.
        if (distinct > 0 && cache().FindSamplesMany(new Lookups(this, order, distinct)) is { Count: > 0 } found)
        {
            _foundStart = new int[groups + 1];
            foreach (var (d, _, _) in found)
            {
                _foundStart[_groupOf[order[d]] + 1]++;
            }

            for (int g = 0; g < groups; g++)
            {
                _foundStart[g + 1] += _foundStart[g];
            }

            _foundSample = new int[found.Count];
            _foundRow = new long[found.Count];
            _groupFirst = new int[groups];
            int[] next = _foundStart[..groups];
            foreach (var (d, sample, row) in found)
            {
                int g = _groupOf[order[d]];
                _groupFirst[g] = order[d];
                _foundSample[next[g]] = sample;
                _foundRow[next[g]++] = row;
            }
        }

        // 4. Requests: every group with a missing sample, in group order.
        int requests = 0;
        for (int g = 0; g < groups; g++)
        {
            if (MissingCount(g) > 0)
            {
                requests++;
            }
            else
            {
                _flags[g] &= unchecked((byte)~Pending);
            }
        }

        _requestGroup = new int[requests];
        _requestPrompt = new int[requests];
        _requestSamples = new int[requests];
        int[] requestOfGroup = distinct > 0 && requests > 0 ? new int[groups] : [];
        for (int i = 0, g = 0, r = 0; i < n; i++)
        {
            if (_groupOf[i] != g)
            {
                continue; // not its group's first prompt
            }

            if ((_flags[g] & Pending) != 0)
            {
                _requestGroup[r] = g;
                _requestPrompt[r] = i;
                _requestSamples[r] = MissingCount(g);
                if (requestOfGroup.Length > 0)
                {
                    requestOfGroup[g] = r;
                }

                r++;
            }

            g++;
        }

        for (int i = 0; i < n; i++)
        {
            CachedPrompts += (_flags[_groupOf[i]] & Pending) == 0 ? 1 : 0;
        }

        int keyedRequests = 0;
        for (int d = 0; d < distinct && requests > 0; d++)
        {
            keyedRequests += (_flags[_groupOf[order[d]]] & Pending) != 0 ? 1 : 0;
        }

        _requestsByKey = new int[keyedRequests];
        for (int d = 0, k = 0; k < keyedRequests; d++)
        {
            int g = _groupOf[order[d]];
            if ((_flags[g] & Pending) != 0)
            {
                _requestsByKey[k++] = requestOfGroup[g];
            }
        }
    }

    /// <summary>From how many prompts a run computes cache keys on all cores.</summary>
    public const int ParallelThreshold = 2048;

    /// <summary>How many prompts the run answers.</summary>
    public int PromptCount => _prompts.Length;

    /// <summary>How many requests (groups the cache could not answer in full) the provider must answer.</summary>
    public int Count => _requestGroup.Length;

    /// <inheritdoc/>
    public int CachedPrompts { get; }

    /// <summary>What the run spent and saved so far (under the model's <see cref="LanguageModel.Spend"/>).</summary>
    public Costs.LmSpend Spend { get; init; } = new(null);

    /// <summary>Samples of cache-using prompts that the cache lacked: what the run asks the provider for and will store.</summary>
    public long KeyedMissingSamples()
    {
        long total = 0;
        for (int r = 0; r < Count; r++)
        {
            total += TryGetKey(r, out _) ? _requestSamples[r] : 0;
        }

        return total;
    }

    /// <summary>Whether any request's prompt uses the cache (so a batch run keeps a journal).</summary>
    public bool HasKeyedRequests => _requestsByKey.Length > 0;

    /// <summary>A request as providers see it (made on each call; the run does not keep them).</summary>
    public LmUncachedRequest this[int index] =>
        new(index, PromptAt(index), _requestSamples[index]) { CacheKey = TryGetKey(index, out var key) ? key : null, FirstSample = FirstMissing(_requestGroup[index]) };

    /// <inheritdoc/>
    public LmPrompt PromptAt(int request) => _prompts[_requestPrompt[request]];

    /// <inheritdoc/>
    public int NumCompletionsAt(int request) => _requestSamples[request];

    /// <inheritdoc/>
    public bool TryGetKey(int request, out CacheKey key) => TryGetPromptKey(_requestPrompt[request], out key);

    /// <inheritdoc/>
    public int ResultIndexAt(int request) => request;

    /// <inheritdoc/>
    public int IndexOf(CacheKey key)
    {
        int lo = 0;
        int hi = _requestsByKey.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = _keys![_requestPrompt[_requestsByKey[mid]]].CompareTo(key);
            if (c == 0)
            {
                return _requestsByKey[mid];
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return -1;
    }

    /// <summary>Whether prompt <paramref name="i"/> can be assembled now (answered by the cache, or by the provider and stored).</summary>
    public bool IsReady(int i)
    {
        int g = _groupOf[i];
        byte flags = Volatile.Read(ref _flags[g]);
        return ((flags & Pending) == 0 || (flags & Done) != 0)
            && (g < Volatile.Read(ref _decoded) || CachedSamples(g).IsEmpty);
    }

    /// <summary>How many groups (in input order) have their cached samples decoded.</summary>
    public int DecodedGroups => Volatile.Read(ref _decoded);

    /// <summary>Whether the cache holds samples for this run, which <see cref="DecodeCachedAsync"/> must read.</summary>
    public bool HasCachedSamples => _foundStart is not null;

    /// <summary>How many groups <see cref="DecodeCachedAsync"/> keeps decoded ahead of the caller.</summary>
    public const int DecodeAheadGroups = 8192;

    /// <summary>How many cached samples <see cref="DecodeCachedAsync"/> reads in one transaction.</summary>
    private const int DecodeWindow = 2048;

    /// <summary>
    /// Reads and decodes the cached samples, group by group in input order, staying at most
    /// <see cref="DecodeAheadGroups"/> groups ahead of the caller, and pulses <paramref name="ready"/> after each window.
    /// </summary>
    /// <param name="cache">The cache the samples were found in.</param>
    /// <param name="ready">Pulsed after each window.</param>
    /// <param name="cancellationToken">Cancels the decoding.</param>
    /// <param name="refetch">
    /// Answers a sample (prompt, sample index) that another process removed from the cache after it was found (a
    /// <c>RemovePromptFromCache</c> or an eviction racing this run): asked of the model again rather than failing the run.
    /// Null fails the run with an <see cref="Caching.LmCacheException"/> instead.
    /// </param>
    public async Task DecodeCachedAsync(
        LmCache cache, DoneSignal ready, CancellationToken cancellationToken, Func<LmPrompt, int, CancellationToken, Task<LmPrediction>>? refetch = null)
    {
        if (_foundStart is null)
        {
            return;
        }

        int groups = _slots.Length;
        var rows = new (long Row, CacheKey Key, int Sample)[DecodeWindow];
        var payloads = new byte[]?[DecodeWindow];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        for (int g = 0; g < groups;)
        {
            if (g - Volatile.Read(ref _consumed) >= DecodeAheadGroups)
            {
                int next = g;
                await _consumerMoved.WaitUntilAsync(() => next - Volatile.Read(ref _consumed) < DecodeAheadGroups, cancellationToken).ConfigureAwait(false);
            }

            // The next groups, up to a window of samples (a group's samples are never split).
            int end = g + 1;
            while (end < groups && end - g < DecodeAheadGroups && _foundStart[end + 1] - _foundStart[g] <= DecodeWindow)
            {
                end++;
            }

            int from = _foundStart[g];
            int count = _foundStart[end] - from;
            if (count > 0)
            {
                if (count > rows.Length)
                {
                    rows = new (long, CacheKey, int)[count];
                    payloads = new byte[]?[count];
                }

                var entryGroup = new int[count];
                for (int group = g, k = 0; group < end; group++)
                {
                    for (int e = _foundStart[group]; e < _foundStart[group + 1]; e++, k++)
                    {
                        entryGroup[k] = group;
                        rows[k] = (_foundRow![e], _keys![_groupFirst![group]], _foundSample![e]);
                    }
                }

                cache.ReadPayloads(rows.AsSpan(0, count), payloads);
                LmPrediction?[]? refetched = null;
                for (int k = 0; k < count; k++)
                {
                    if (payloads[k] is null)
                    {
                        // Removed by another process since the run looked: ask again (from the cache if it was stored anew).
                        var prompt = _prompts[_groupFirst![entryGroup[k]]];
                        refetched ??= new LmPrediction?[count];
                        refetched[k] = refetch is null
                            ? throw new Caching.LmCacheException(cache.FilePath, "A cached answer was removed from the cache during the run (evicted by another process?); run the prompts again.")
                            : await refetch(prompt, rows[k].Sample, cancellationToken).ConfigureAwait(false);
                    }
                }

                var decode = (Action<int>)(k =>
                {
                    int group = entryGroup[k];
                    var prompt = _prompts[_groupFirst![group]];
                    var prediction = refetched?[k] ?? PredictionJson.DeserializePayload(payloads[k]!, prompt, wasCached: true);
                    payloads[k] = null;
                    if (_slots[group] is LmPrediction?[] samples)
                    {
                        samples[rows[k].Sample] = prediction;
                    }
                    else
                    {
                        _slots[group] = prediction;
                    }
                });
                if (count >= 64)
                {
                    Parallel.For(0, count, parallel, decode);
                }
                else
                {
                    for (int k = 0; k < count; k++)
                    {
                        decode(k);
                    }
                }
            }

            Volatile.Write(ref _decoded, end);
            ready.Pulse();
            g = end;
        }
    }

    /// <summary>The prediction for prompt <paramref name="i"/>, with that prompt attached. Call once, when <see cref="IsReady"/>.</summary>
    public LmPrediction Assemble(int i) => Assemble(i, out _);

    /// <summary>
    /// The prediction for prompt <paramref name="i"/>, as <see cref="Assemble(int)"/>; <paramref name="firstOfGroup"/> says
    /// whether it is the first prompt of its group (so a run counts each distinct prompt's spend once).
    /// </summary>
    public LmPrediction Assemble(int i, out bool firstOfGroup)
    {
        var prompt = _prompts[i];
        int g = _groupOf[i];
        firstOfGroup = g >= _consumed;
        if (firstOfGroup)
        {
            Volatile.Write(ref _consumed, g + 1);
            if (g % 1024 == 0)
            {
                _consumerMoved.Pulse(); // lets a decoder that is far enough ahead go on
            }
        }

        var slot = _slots[g];
        LmPrediction result;
        if (slot is LmPrediction only)
        {
            result = ReferenceEquals(only.Prompt, prompt) ? only : only.With(prompt, only.WasCached);
        }
        else
        {
            result = AssembleSamples((LmPrediction?[])slot!, prompt);
        }

        if ((_flags[g] & Shared) == 0)
        {
            _slots[g] = null; // handed out and read by no other prompt: the caller owns it now
        }

        return result;
    }

    /// <summary>Claims a provider's answer to request <paramref name="request"/>: false when it was answered before (the first answer stands).</summary>
    public bool TryClaim(int request)
    {
        if ((uint)request >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(request), request, $"There is no request {request}.");
        }

        int g = _requestGroup[request];
        if ((_flags[g] & Answered) != 0)
        {
            return false;
        }

        _flags[g] |= Answered;
        return true;
    }

    /// <summary>Puts a provider's new samples into the request's empty slots and lists those worth caching.</summary>
    /// <returns>False when the provider returned the wrong number of predictions.</returns>
    public bool Fill(int request, IReadOnlyList<LmPrediction> predictions, List<(CacheKey, int, byte[])> toStore)
    {
        bool oneForAll = predictions.Count == 1 && predictions[0].HasErrors;
        if (predictions.Count != _requestSamples[request] && !oneForAll)
        {
            return false;
        }

        int g = _requestGroup[request];
        CacheKey? key = TryGetKey(request, out var k) ? k : null;
        if (_slots[g] is LmPrediction?[] samples)
        {
            FillEmpty(samples, predictions, key, toStore, CachedSamples(g));
        }
        else
        {
            _slots[g] = predictions[0];
            Collect(predictions[0], key, 0, toStore);
        }

        return true;
    }

    /// <summary>
    /// Fills the empty slots of <paramref name="samples"/> with a provider's predictions in order (or every slot with a
    /// single failed prediction that stands for all), listing those worth caching under <paramref name="key"/>.
    /// </summary>
    /// <param name="samples">The slots.</param>
    /// <param name="predictions">The provider's new samples.</param>
    /// <param name="key">The cache key, or null when the prompt does not use the cache.</param>
    /// <param name="toStore">Where the samples to cache go.</param>
    /// <param name="cached">Slots the cache holds (empty until they are decoded): left alone.</param>
    public static void FillEmpty(
        LmPrediction?[] samples, IReadOnlyList<LmPrediction> predictions, CacheKey? key, List<(CacheKey, int, byte[])> toStore, ReadOnlySpan<int> cached = default)
    {
        bool oneForAll = predictions.Count == 1 && predictions[0].HasErrors;
        for (int s = 0, next = 0; s < samples.Length; s++)
        {
            if (samples[s] is null && !cached.Contains(s))
            {
                var p = predictions[oneForAll ? 0 : next++];
                samples[s] = p;
                Collect(p, key, s, toStore);
            }
        }
    }

    /// <summary>The first <see cref="LmPrompt.NumCompletions"/> samples as one prediction for <paramref name="prompt"/>.</summary>
    public static LmPrediction AssembleSamples(LmPrediction?[] samples, LmPrompt prompt)
    {
        int n = prompt.NumCompletions;
        if (n == 1)
        {
            var only = samples[0]!;
            return ReferenceEquals(only.Prompt, prompt) ? only : only.With(prompt, only.WasCached);
        }

        var all = new LmPrediction[n];
        for (int s = 0; s < n; s++)
        {
            var sample = samples[s]!;
            all[s] = sample.With(prompt, sample.WasCached);
        }

        return all[0].With(prompt, all[0].WasCached, all);
    }

    /// <summary>Lists a sample for the cache: answers and permanent errors are kept, transient errors never.</summary>
    private static void Collect(LmPrediction p, CacheKey? key, int sample, List<(CacheKey, int, byte[])> toStore)
    {
        if (key is { } k && (!p.HasErrors || p.IsErrorPermanent))
        {
            toStore.Add((k, sample, PredictionJson.SerializePayload(p)));
        }
    }

    /// <summary>Marks a filled request done, so the consumer may read it.</summary>
    public void MarkDone(int request)
    {
        int g = _requestGroup[request];
        Volatile.Write(ref _flags[g], (byte)(_flags[g] | Done));
    }

    /// <summary>A request the provider never answered, or -1.</summary>
    public int FirstUndone()
    {
        for (int r = 0; r < Count; r++)
        {
            if ((_flags[_requestGroup[r]] & Done) == 0)
            {
                return r;
            }
        }

        return -1;
    }

    /// <inheritdoc/>
    public IEnumerator<LmUncachedRequest> GetEnumerator()
    {
        for (int r = 0; r < Count; r++)
        {
            yield return this[r];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private bool TryGetPromptKey(int prompt, out CacheKey key)
    {
        if (_keys is null || (_unkeyed is not null && _unkeyed[prompt]))
        {
            key = default;
            return false;
        }

        key = _keys[prompt];
        return true;
    }

    /// <summary>Samples group <paramref name="g"/> lacks: its widest prompt's count, less those the cache holds.</summary>
    private int MissingCount(int g) => Width(g) - CachedSamples(g).Length;

    /// <summary>The lowest sample number group <paramref name="g"/>'s cached samples leave out.</summary>
    private int FirstMissing(int g)
    {
        var cached = CachedSamples(g);
        int s = 0;
        while (cached.Contains(s))
        {
            s++;
        }

        return s;
    }

    /// <summary>How many samples group <paramref name="g"/> holds: its widest prompt's <see cref="LmPrompt.NumCompletions"/>.</summary>
    private int Width(int g) => _slots[g] is LmPrediction?[] samples ? samples.Length : 1;

    /// <summary>The sample indices of group <paramref name="g"/> that the cache holds.</summary>
    private ReadOnlySpan<int> CachedSamples(int g) =>
        _foundStart is null ? [] : _foundSample.AsSpan(_foundStart[g], _foundStart[g + 1] - _foundStart[g]);

    /// <summary>Orders prompt indices by their keys.</summary>
    private sealed class KeyOrder(CacheKey[] keys) : IComparer<int>
    {
        public int Compare(int x, int y) => keys[x].CompareTo(keys[y]);
    }

    /// <summary>The cache lookups of a run, one per distinct key in key order, without a list of their own.</summary>
    private sealed class Lookups(PredictManyRun run, int[] order, int count) : IReadOnlyList<(CacheKey Key, int Count)>
    {
        public int Count => count;

        public (CacheKey Key, int Count) this[int index]
        {
            get
            {
                int first = order[index];
                return (run._keys![first], run.Width(run._groupOf[first]));
            }
        }

        public IEnumerator<(CacheKey Key, int Count)> GetEnumerator()
        {
            for (int i = 0; i < count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
