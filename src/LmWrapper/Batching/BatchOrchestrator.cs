using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using LmWrapper.Caching;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Batching;

/// <summary>
/// Runs cache misses through a provider's batch API: reattaches to batches a earlier run left behind (from the journal
/// in the cache database), writes and splits request files, records every batch before it is submitted, waits with
/// growing pauses, collects results, resubmits what expired, was cancelled or failed (a bounded number of times), and
/// cleans up provider files once results are cached.
/// </summary>
internal sealed class BatchOrchestrator(
    IBatchBackend backend, LmCache? journal, string modelIdentity, BatchOptions options, ILogger logger, int cached = 0, Func<LmPrediction, decimal?>? costOf = null)
{
    private decimal? _cost = costOf is null ? null : 0m;

    private readonly BatchLimits _limits = options.Limits ?? backend.Limits;
    private readonly ConcurrentQueue<(string LocalId, CacheKey Key)> _answered = new();

    // Results handed out but not yet stored by the caller, per batch: a batch is forgotten (journal entry and provider
    // files) only once none are left, so a crash can never lose an answer that was paid for.
    private readonly ConcurrentDictionary<string, int> _unstored = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _stored = new(0);

    public async IAsyncEnumerable<LmUncachedResult> RunAsync(
        IReadOnlyList<LmUncachedRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var states = new Dictionary<RequestId, RequestState>(requests.Count);
        foreach (var r in requests)
        {
            var s = new RequestState(r);
            states[s.Id] = s;
        }

        var active = new List<Job>();
        var collected = new List<(string LocalId, string? ProviderId)>();
        var pendingChunks = new Queue<Chunk>();
        int failedCount = 0;
        int completedCount = 0;

        // 1. Reattach to batches an earlier run submitted for these keys (and tidy the journal).
        if (journal is not null)
        {
            var keys = requests.Where(r => r.CacheKey is not null).Select(r => r.CacheKey!.Value).ToHashSet();
            var emptied = new List<BatchJournalEntry>();
            foreach (var entry in journal.FindBatchJobs(backend.Name, modelIdentity, keys.Contains, emptied))
            {
                if (entry.Items.Count == 0)
                {
                    continue; // covers none of this run's prompts: left for the run that asks for them
                }

                string? providerId = entry.ProviderId
                    ?? await backend.FindAsync(new BatchSubmissionRecord(entry.LocalId, entry.RecordedAt, entry.RequestCount), cancellationToken).ConfigureAwait(false);
                if (providerId is null)
                {
                    // Recorded but never created at the provider (the process died before the upload finished).
                    journal.DeleteBatchJob(entry.LocalId);
                    continue;
                }

                if (entry.ProviderId is null)
                {
                    journal.SetBatchProviderId(entry.LocalId, providerId);
                }

                var job = new Job(entry.LocalId, entry.EstimatedTokens, entry.Items.Count) { ProviderId = providerId, NextPoll = Now };
                foreach (var (key, count) in entry.Items)
                {
                    var state = states[RequestId.Of(key)];
                    job.Items[state.Id] = count;
                    state.Covered += count;
                    state.Attempt = Math.Max(state.Attempt, entry.Attempt);
                }

                active.Add(job);
                logger.LogInformation("Reattached to batch {BatchId} ({Count} of this run's prompts).", providerId, job.Items.Count);
            }

            foreach (var entry in emptied)
            {
                await CleanupAsync(entry.LocalId, entry.ProviderId, cancellationToken).ConfigureAwait(false);
            }
        }

        // 2. Write request files for everything no batch covers.
        foreach (var chunk in WriteChunks(states.Values.Where(s => s.Uncovered > 0).ToList(), attempt: 1))
        {
            pendingChunks.Enqueue(chunk);
        }

        try
        {
            while (states.Values.Any(s => !s.Done))
            {
                cancellationToken.ThrowIfCancellationRequested();

                // 3. Submit what the provider's token queue has room for.
                while (pendingChunks.Count > 0)
                {
                    var chunk = pendingChunks.Peek();
                    long enqueued = active.Sum(j => j.EstimatedTokens);
                    if (_limits.MaxEnqueuedTokens is { } cap && active.Count > 0 && enqueued + chunk.EstimatedTokens > cap)
                    {
                        break; // wait for a running batch to finish
                    }

                    pendingChunks.Dequeue();
                    var outcome = await SubmitAsync(chunk, states, cancellationToken).ConfigureAwait(false);
                    if (outcome.Job is { } job)
                    {
                        active.Add(job);
                    }
                    else if (outcome.QueueFull)
                    {
                        if (active.Count > 0)
                        {
                            var requeue = new Queue<Chunk>([chunk, .. pendingChunks]);
                            pendingChunks.Clear();
                            foreach (var c in requeue)
                            {
                                pendingChunks.Enqueue(c);
                            }

                            break;
                        }

                        if (chunk.Items.Count > 1)
                        {
                            // Nothing is running and it still does not fit: halve it.
                            journal?.DeleteBatchJob(chunk.LocalId);
                            TryDelete(chunk.File);
                            foreach (var item in chunk.Items)
                            {
                                states[item.Id].Covered -= item.SampleCount;
                            }

                            var halves = WriteChunks(chunk.Items.Select(i => states[i.Id]).ToList(), chunk.Attempt, Math.Max(1, chunk.Items.Count / 2)).ToList();
                            var rest = pendingChunks.ToList();
                            pendingChunks.Clear();
                            foreach (var c in halves.Concat(rest))
                            {
                                pendingChunks.Enqueue(c);
                            }
                        }
                        else
                        {
                            foreach (var r in FailChunk(chunk, states, "the provider's queue of enqueued tokens has no room even for this single request"))
                            {
                                failedCount++;
                                yield return r;
                            }
                        }
                    }
                    else
                    {
                        foreach (var r in FailChunk(chunk, states, outcome.Error!))
                        {
                            failedCount++;
                            yield return r;
                        }
                    }
                }

                Report(states.Count, active, completedCount, failedCount);
                await ForgetCollectedAsync(collected, waitForAll: false, cancellationToken).ConfigureAwait(false);
                if (active.Count == 0)
                {
                    if (pendingChunks.Count == 0)
                    {
                        foreach (var s in states.Values.Where(s => !s.Done))
                        {
                            s.Done = true;
                            failedCount++;
                            yield return Error(s, "no batch covers this request (internal error)");
                        }
                    }

                    continue;
                }

                // 4. Wait for the next batch that is due a look, then look.
                var due = active.MinBy(j => j.NextPoll)!;
                var wait = due.NextPoll - Now;
                if (wait > TimeSpan.Zero)
                {
                    FlushAnswered();
                    await Task.Delay(wait, options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }

                var status = await backend.GetStatusAsync(due.ProviderId!, cancellationToken).ConfigureAwait(false);
                if (!status.IsTerminal)
                {
                    due.PollDelay = due.PollDelay == TimeSpan.Zero ? options.PollInterval : TimeSpan.FromTicks(Math.Min(options.MaxPollInterval.Ticks, (long)(due.PollDelay.Ticks * 1.5)));
                    due.NextPoll = Now + due.PollDelay;
                    continue;
                }

                // 5. Collect a finished batch.
                active.Remove(due);
                logger.LogInformation("Batch {BatchId} is {State}; collecting.", due.ProviderId, status.State);
                var received = new HashSet<RequestId>();
                await foreach (var line in backend.ReadResultsAsync(due.ProviderId!, Lookup(due, states), cancellationToken).ConfigureAwait(false))
                {
                    if (!RequestId.TryParse(line.CustomId, out var id) || !due.Items.ContainsKey(id) || !states.TryGetValue(id, out var state) || state.Done || !received.Add(id))
                    {
                        continue;
                    }

                    state.Contributors.Add(due.LocalId);
                    if (line.Predictions.Count == 1 && line.Predictions[0].HasErrors)
                    {
                        state.Done = true;
                        failedCount++;
                        yield return Result(state, [line.Predictions[0]]);
                        continue;
                    }

                    state.Got.AddRange(line.Predictions);
                    state.Covered -= due.Items[id];
                    if (state.Got.Count >= state.Request.NumCompletions)
                    {
                        state.Done = true;
                        completedCount++;
                        yield return Result(state, state.Got.Take(state.Request.NumCompletions).ToList());
                    }
                }

                // Requests the batch did not answer, or answered with fewer samples than asked (expired, cancelled,
                // failed): resubmit what is missing, or give up.
                var retry = new List<RequestState>();
                foreach (var (requestId, count) in due.Items)
                {
                    var state = states[requestId];
                    if (state.Done)
                    {
                        continue;
                    }

                    if (!received.Contains(requestId))
                    {
                        state.Covered -= count;
                    }

                    if (state.Uncovered <= 0)
                    {
                        continue; // another batch still covers it
                    }

                    if (state.Attempt < options.MaxAttempts)
                    {
                        state.Attempt++;
                        retry.Add(state);
                    }
                    else
                    {
                        state.Done = true;
                        failedCount++;
                        yield return Error(state, $"batch {due.ProviderId} ended {status.State.ToString().ToLowerInvariant()}" +
                            (status.Message is null ? string.Empty : $" ({status.Message})") +
                            $" without answering this request, after {state.Attempt} attempt(s)");
                    }
                }

                if (retry.Count > 0)
                {
                    logger.LogWarning("Batch {BatchId} ended {State} with {Count} requests unanswered; resubmitting them.", due.ProviderId, status.State, retry.Count);
                    foreach (var chunk in WriteChunks(retry, retry.Max(s => s.Attempt)))
                    {
                        pendingChunks.Enqueue(chunk);
                    }
                }

                collected.Add((due.LocalId, due.ProviderId));
            }

            await ForgetCollectedAsync(collected, waitForAll: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var chunk in pendingChunks)
            {
                TryDelete(chunk.File);
            }

            FlushAnswered();
        }

        Report(states.Count, active, completedCount, failedCount);
    }

    private DateTimeOffset Now => options.TimeProvider.GetUtcNow();

    private LmUncachedResult Result(RequestState state, IReadOnlyList<LmPrediction> predictions)
    {
        if (_cost is not null)
        {
            foreach (var p in predictions)
            {
                _cost = p.HasErrors || _cost is null ? _cost : costOf!(p) is { } c ? _cost + c : null;
            }
        }

        var contributors = state.ContributorIds;
        foreach (var localId in contributors)
        {
            _unstored.AddOrUpdate(localId, 1, (_, n) => n + 1);
        }

        return new(state.Request.Index, predictions)
        {
            OnStored = contributors.Length == 0 ? null : () =>
            {
                foreach (var localId in contributors)
                {
                    if (state.Request.CacheKey is { } key && journal is not null)
                    {
                        _answered.Enqueue((localId, key));
                    }

                    _unstored.AddOrUpdate(localId, 0, (_, n) => n - 1);
                }

                _stored.Release();
            },
        };
    }

    /// <summary>
    /// Cleans up collected batches whose results the caller has all stored; with <paramref name="waitForAll"/>, waits
    /// (asynchronously, so the caller can store them meanwhile) until every collected batch can be cleaned up.
    /// </summary>
    private async Task ForgetCollectedAsync(List<(string LocalId, string? ProviderId)> collected, bool waitForAll, CancellationToken ct)
    {
        while (collected.Count > 0)
        {
            foreach (var batch in collected.ToList())
            {
                if (_unstored.GetValueOrDefault(batch.LocalId) <= 0)
                {
                    collected.Remove(batch);
                    await CleanupAsync(batch.LocalId, batch.ProviderId, ct).ConfigureAwait(false);
                }
            }

            if (!waitForAll || collected.Count == 0)
            {
                return;
            }

            await _stored.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    private LmUncachedResult Error(RequestState state, string message) =>
        Result(state, [LmPrediction.FromError(state.Request.Prompt, message)]);

    private IEnumerable<LmUncachedResult> FailChunk(Chunk chunk, Dictionary<RequestId, RequestState> states, string why)
    {
        TryDelete(chunk.File);
        journal?.DeleteBatchJob(chunk.LocalId);
        foreach (var item in chunk.Items)
        {
            var state = states[item.Id];
            state.Covered -= item.SampleCount;
            if (!state.Done && state.Uncovered > 0)
            {
                state.Done = true;
                yield return Error(state, "could not submit a batch: " + why);
            }
        }
    }

    private async Task<(Job? Job, bool QueueFull, string? Error)> SubmitAsync(Chunk chunk, Dictionary<RequestId, RequestState> states, CancellationToken ct)
    {
        // The journal learns of the batch before the provider does: a crash from here on cannot make a rerun pay twice.
        journal?.AddBatchJob(
            chunk.LocalId,
            backend.Name,
            modelIdentity,
            chunk.Attempt,
            chunk.EstimatedTokens,
            chunk.Items.Count,
            chunk.Items.Where(i => i.Id.IsKeyed).Select(i => (i.Id.Key, i.SampleCount)));
        try
        {
            string providerId = await backend.SubmitAsync(chunk.LocalId, chunk.File, chunk.Items.Count, ct).ConfigureAwait(false);
            journal?.SetBatchProviderId(chunk.LocalId, providerId);
            TryDelete(chunk.File);
            logger.LogInformation("Submitted batch {BatchId}: {Count} requests.", providerId, chunk.Items.Count);
            var job = new Job(chunk.LocalId, chunk.EstimatedTokens, chunk.Items.Count) { ProviderId = providerId, NextPoll = Now + options.PollInterval, PollDelay = options.PollInterval };
            foreach (var item in chunk.Items)
            {
                job.Items[item.Id] = item.SampleCount;
            }

            return (job, false, null);
        }
        catch (LmBatchQueueFullException e)
        {
            logger.LogWarning("The provider's batch queue is full ({Message}); waiting before submitting {Count} requests.", e.Message, chunk.Items.Count);
            return (null, true, null);
        }
        catch (Exception e) when (e is not (OperationCanceledException or LmAuthenticationException))
        {
            logger.LogError(e, "Submitting a batch of {Count} requests failed.", chunk.Items.Count);
            return (null, false, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private IEnumerable<Chunk> WriteChunks(List<RequestState> todo, int attempt, int maxRequests = int.MaxValue)
    {
        string dir = options.WorkingDirectory ?? Path.Combine(Path.GetTempPath(), "lmwrapper-batches");
        Directory.CreateDirectory(dir);
        int perChunk = Math.Min(maxRequests, _limits.MaxRequests);
        var line = new ArrayBufferWriter<byte>(1024);
        Chunk? chunk = null;
        FileStream? stream = null;
        try
        {
            foreach (var state in todo)
            {
                int count = state.Uncovered;
                if (count <= 0)
                {
                    continue;
                }

                line.ResetWrittenCount();
                backend.WriteRequestLine(line, state.Id.ToCustomId(), state.Request.Prompt, count);
                line.Write("\n"u8);
                long tokens = backend.EstimateEnqueuedTokens(state.Request.Prompt, count);
                if (chunk is not null && (chunk.Items.Count >= perChunk
                    || chunk.Bytes + line.WrittenCount > _limits.MaxFileBytes
                    || (_limits.MaxEnqueuedTokens is { } cap && chunk.EstimatedTokens + tokens > cap)))
                {
                    stream!.Dispose();
                    yield return chunk;
                    chunk = null;
                }

                if (chunk is null)
                {
                    string localId = "lmw_" + Guid.NewGuid().ToString("N");
                    chunk = new Chunk(localId, Path.Combine(dir, localId + ".jsonl"), attempt);
                    stream = new FileStream(chunk.File, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
                }

                stream!.Write(line.WrittenSpan);
                chunk.Bytes += line.WrittenCount;
                chunk.EstimatedTokens += tokens;
                chunk.Items.Add((state.Id, count));
                state.Covered += count;
            }

            if (chunk is not null)
            {
                stream!.Dispose();
                stream = null;
                yield return chunk;
            }
        }
        finally
        {
            stream?.Dispose();
        }
    }

    private static Func<string, (LmPrompt Prompt, int NumCompletions)?> Lookup(Job job, Dictionary<RequestId, RequestState> states) =>
        customId => RequestId.TryParse(customId, out var id) && job.Items.TryGetValue(id, out int count) && states.TryGetValue(id, out var s)
            ? (s.Request.Prompt, count)
            : null;

    private async Task CleanupAsync(string localId, string? providerId, CancellationToken ct)
    {
        if (providerId is not null && options.DeleteProviderFiles)
        {
            try
            {
                await backend.CleanupAsync(providerId, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not delete the files of batch {BatchId}; they stay at the provider.", providerId);
                return; // keep the journal entry so a later run tries again
            }
        }

        if (journal is not null)
        {
            FlushAnswered();
            journal.DeleteBatchJob(localId);
        }
    }

    private void FlushAnswered()
    {
        if (journal is null || _answered.IsEmpty)
        {
            return;
        }

        var done = new List<(string, CacheKey)>();
        while (_answered.TryDequeue(out var item))
        {
            done.Add(item);
        }

        journal.RemoveBatchItems(done);
    }

    private void Report(int requests, List<Job> active, int completed, int failed) =>
        options.Progress?.Report(new BatchProgress(requests, active.Sum(j => j.Items.Count) + completed + failed, completed, failed, active.Count, cached, _cost));

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// A request's identity: its cache key, or (for a prompt that does not use the cache) its index. Kept as 24 bytes
    /// rather than as its custom id string, which is made only when a request line is written: a run may hold millions.
    /// </summary>
    private readonly record struct RequestId(CacheKey Key, int Index)
    {
        public bool IsKeyed => Index < 0;

        public static RequestId Of(CacheKey key) => new(key, -1);

        public static RequestId Unkeyed(int index) => new(default, index);

        /// <summary>The custom id the provider echoes back: the key's 32 hex digits, or "u" and the index.</summary>
        public string ToCustomId() => IsKeyed ? Key.ToString() : "u" + Index.ToString(CultureInfo.InvariantCulture);

        public static bool TryParse(string customId, out RequestId id)
        {
            id = default;
            if (customId.Length == 32
                && ulong.TryParse(customId.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong high)
                && ulong.TryParse(customId.AsSpan(16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong low))
            {
                id = Of(new CacheKey(high, low));
                return string.Equals(id.ToCustomId(), customId, StringComparison.Ordinal); // only the exact form LmWrapper writes
            }

            if (customId.Length > 1 && customId[0] == 'u'
                && int.TryParse(customId.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                id = Unkeyed(index);
                return string.Equals(id.ToCustomId(), customId, StringComparison.Ordinal);
            }

            return false;
        }
    }

    private sealed class RequestState(LmUncachedRequest request)
    {
        public LmUncachedRequest Request { get; } = request;

        public RequestId Id { get; } = request.CacheKey is { } key ? RequestId.Of(key) : RequestId.Unkeyed(request.Index);

        // Made on first use: most requests never need them until their batch is collected, and a run may hold millions.
        private List<LmPrediction>? _got;
        private List<string>? _contributors;

        public List<LmPrediction> Got => _got ??= [];

        public List<string> Contributors => _contributors ??= [];

        public string[] ContributorIds => _contributors?.ToArray() ?? [];

        public int GotCount => _got?.Count ?? 0;

        /// <summary>Samples that submitted (or about to be submitted) batches will deliver.</summary>
        public int Covered { get; set; }

        public int Uncovered => Request.NumCompletions - GotCount - Covered;

        public int Attempt { get; set; } = 1;

        public bool Done { get; set; }
    }

    private sealed class Chunk(string localId, string file, int attempt)
    {
        public string LocalId { get; } = localId;

        public string File { get; } = file;

        public int Attempt { get; } = attempt;

        public List<(RequestId Id, int SampleCount)> Items { get; } = [];

        public long Bytes { get; set; }

        public long EstimatedTokens { get; set; }
    }

    private sealed class Job(string localId, long estimatedTokens, int capacity = 0)
    {
        public string LocalId { get; } = localId;

        public long EstimatedTokens { get; } = estimatedTokens;

        public string? ProviderId { get; init; }

        public Dictionary<RequestId, int> Items { get; } = new(capacity);

        public DateTimeOffset NextPoll { get; set; }

        public TimeSpan PollDelay { get; set; }
    }
}
