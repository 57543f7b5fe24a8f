using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LmWrapper.Caching;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Batching;

/// <summary>
/// Runs cache misses through a provider's batch API: reattaches to batches a earlier run left behind (from the journal
/// in the cache database), writes and splits request files, records every batch before it is submitted, waits with
/// growing pauses, collects results, resubmits what expired, was cancelled or failed (a bounded number of times), and
/// cleans up provider files once results are cached.
/// </summary>
/// <remarks>
/// A run may hold a million requests, so the state kept per request is a few array slots indexed by the request's
/// position (samples delivered, attempt, done), and a batch lists its requests as two integer arrays; the prompts stay
/// in the caller's table and request lines go straight to files.
/// </remarks>
internal sealed class BatchOrchestrator(
    IBatchBackend backend, LmCache? journal, string modelIdentity, BatchOptions options, ILogger logger, Func<LmPrediction, decimal?>? costOf = null)
{
    private decimal? _cost = costOf is null ? null : 0m;

    private readonly BatchLimits _limits = options.Limits ?? backend.Limits;
    private readonly ConcurrentQueue<(string LocalId, CacheKey Key)> _answered = new();

    // Results handed out but not yet stored by the caller, per batch: a batch is forgotten (journal entry and provider
    // files) only once none are left, so a crash can never lose an answer that was paid for.
    private readonly ConcurrentDictionary<string, int> _unstored = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _stored = new(0);

    // Per request (by position in the table).
    private IUncachedRequestTable _table = null!;
    private int[] _covered = []; // samples that submitted (or about to be submitted) batches will deliver
    private int[] _attempt = [];
    private bool[] _done = [];
    private int _remaining;

    // Rare per-request extras: samples gathered from batches that delivered only some of them, and those batches.
    private readonly Dictionary<int, List<LmPrediction>> _got = [];
    private readonly Dictionary<int, List<string>> _contributors = [];

    public async IAsyncEnumerable<LmUncachedResult> RunAsync(
        IUncachedRequestTable table, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _table = table;
        int count = table.Count;
        _covered = new int[count];
        _attempt = new int[count];
        _done = new bool[count];
        _remaining = count;
        Array.Fill(_attempt, 1);

        var active = new List<Job>();
        var collected = new List<(string LocalId, string? ProviderId)>();
        var pendingChunks = new Queue<Chunk>();
        int failedCount = 0;
        int completedCount = 0;

        // 1. Reattach to batches an earlier run submitted for these keys (and tidy the journal).
        if (journal is not null)
        {
            var emptied = new List<BatchJournalEntry>();
            foreach (var entry in journal.FindBatchJobs(backend.Name, modelIdentity, key => table.IndexOf(key) >= 0, emptied))
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

                var requests = new List<int>(entry.Items.Count);
                var samples = new List<int>(entry.Items.Count);
                foreach (var (key, sampleCount) in entry.Items)
                {
                    int r = table.IndexOf(key);
                    requests.Add(r);
                    samples.Add(sampleCount);
                    _covered[r] += sampleCount;
                    _attempt[r] = Math.Max(_attempt[r], entry.Attempt);
                }

                var job = new Job(entry.LocalId, entry.EstimatedTokens, requests, samples) { ProviderId = providerId, NextPoll = Now };
                active.Add(job);
                logger.LogInformation("Reattached to batch {BatchId} ({Count} of this run's prompts).", providerId, job.Count);
            }

            foreach (var entry in emptied)
            {
                await CleanupAsync(entry.LocalId, entry.ProviderId, cancellationToken).ConfigureAwait(false);
            }
        }

        // 2. Request files for everything no batch covers, each written just before it is submitted: a crash leaves
        // at most one behind (and files a day old are removed at the start of a run).
        // What each request needs beyond the reattached batches is fixed (and counted as covered) now, as when every
        // file was written up front: a reattached batch that answers a request, or only some of its samples, before the
        // request's file is written must not make it be asked for again.
        DeleteStaleRequestFiles();
        var freshSamples = new int[count];
        for (int r = 0; r < count; r++)
        {
            freshSamples[r] = Math.Max(0, Uncovered(r));
            _covered[r] += freshSamples[r];
        }

        using var fresh = WriteChunks(Enumerable.Range(0, count).Where(r => freshSamples[r] > 0), attempt: 1, reserved: freshSamples).GetEnumerator();
        bool freshLeft = true;
        try
        {
            while (_remaining > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // 3. Submit what the provider's token queue has room for.
                while (true)
                {
                    if (pendingChunks.Count == 0 && freshLeft)
                    {
                        if (fresh.MoveNext())
                        {
                            pendingChunks.Enqueue(fresh.Current);
                        }
                        else
                        {
                            freshLeft = false;
                        }
                    }

                    if (pendingChunks.Count == 0)
                    {
                        break;
                    }

                    var chunk = pendingChunks.Peek();
                    long enqueued = active.Sum(j => j.EstimatedTokens);
                    if (_limits.MaxEnqueuedTokens is { } cap && active.Count > 0 && enqueued + chunk.EstimatedTokens > cap)
                    {
                        break; // wait for a running batch to finish
                    }

                    pendingChunks.Dequeue();
                    var outcome = await SubmitAsync(chunk, cancellationToken).ConfigureAwait(false);
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

                        if (chunk.Count > 1)
                        {
                            // Nothing is running and it still does not fit: halve it.
                            journal?.DeleteBatchJob(chunk.LocalId);
                            TryDelete(chunk.File);
                            for (int i = 0; i < chunk.Count; i++)
                            {
                                _covered[chunk.Requests[i]] -= chunk.Samples[i];
                            }

                            var halves = WriteChunks(chunk.Requests, chunk.Attempt, Math.Max(1, chunk.Count / 2)).ToList();
                            var rest = pendingChunks.ToList();
                            pendingChunks.Clear();
                            foreach (var c in halves.Concat(rest))
                            {
                                pendingChunks.Enqueue(c);
                            }
                        }
                        else
                        {
                            foreach (var r in FailChunk(chunk, new LmError(LmErrorKind.RateLimitExhausted, "could not submit a batch: the provider's queue of enqueued tokens has no room even for this single request")))
                            {
                                failedCount++;
                                yield return r;
                            }
                        }
                    }
                    else
                    {
                        foreach (var r in FailChunk(chunk, outcome.Error!))
                        {
                            failedCount++;
                            yield return r;
                        }
                    }
                }

                Report(active, completedCount, failedCount);
                await ForgetCollectedAsync(collected, waitForAll: false, cancellationToken).ConfigureAwait(false);
                if (active.Count == 0)
                {
                    if (pendingChunks.Count == 0 && !freshLeft)
                    {
                        for (int r = 0; r < count && _remaining > 0; r++)
                        {
                            if (!_done[r])
                            {
                                throw new InvalidOperationException($"No batch covers request {r} (an internal error of the batch orchestration).");
                            }
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
                var received = new bool[due.Count];
                await foreach (var line in backend.ReadResultsAsync(due.ProviderId!, Lookup(due), cancellationToken).ConfigureAwait(false))
                {
                    int at = due.Find(RequestOf(line.CustomId));
                    if (at < 0 || received[at])
                    {
                        continue;
                    }

                    received[at] = true;
                    int r = due.Requests[at];
                    if (_done[r])
                    {
                        continue;
                    }

                    if (line.Predictions.Count == 1 && line.Predictions[0].HasErrors)
                    {
                        MarkDone(r);
                        failedCount++;
                        yield return Result(r, due.LocalId, [line.Predictions[0]]);
                        continue;
                    }

                    _covered[r] -= due.Samples[at];
                    int wanted = table.NumCompletionsAt(r);
                    _got.TryGetValue(r, out var earlier);
                    if ((earlier?.Count ?? 0) + line.Predictions.Count >= wanted)
                    {
                        MarkDone(r);
                        completedCount++;
                        IReadOnlyList<LmPrediction> all = earlier is null
                            ? line.Predictions.Count == wanted ? line.Predictions : line.Predictions.Take(wanted).ToList()
                            : earlier.Concat(line.Predictions).Take(wanted).ToList();
                        _got.Remove(r);
                        yield return Result(r, due.LocalId, all);
                    }
                    else
                    {
                        // Some samples now, the rest from a later batch.
                        if (earlier is null)
                        {
                            _got[r] = earlier = [];
                        }

                        earlier.AddRange(line.Predictions);
                        if (!_contributors.TryGetValue(r, out var batches))
                        {
                            _contributors[r] = batches = [];
                        }

                        batches.Add(due.LocalId);

                        // Held until the request is answered and stored: a crash before then leaves this batch in the
                        // journal (and its results at the provider), so a rerun gets these paid-for samples back.
                        _unstored.AddOrUpdate(due.LocalId, 1, (_, n) => n + 1);
                    }
                }

                // Requests the batch did not answer, or answered with fewer samples than asked (expired, cancelled,
                // failed): resubmit what is missing, or give up.
                var retry = new List<int>();
                int retryAttempt = 0;
                for (int at = 0; at < due.Count; at++)
                {
                    int r = due.Requests[at];
                    if (_done[r])
                    {
                        continue;
                    }

                    if (!received[at])
                    {
                        _covered[r] -= due.Samples[at];
                    }

                    if (Uncovered(r) <= 0)
                    {
                        continue; // another batch still covers it
                    }

                    if (_attempt[r] < options.MaxAttempts)
                    {
                        _attempt[r]++;
                        retryAttempt = Math.Max(retryAttempt, _attempt[r]);
                        retry.Add(r);
                    }
                    else
                    {
                        MarkDone(r);
                        failedCount++;
                        yield return Error(r, new LmError(
                            LmErrorKind.Server,
                            $"batch {due.ProviderId} ended {status.State.ToString().ToLowerInvariant()}" +
                            (status.Message is null ? string.Empty : $" ({status.Message})") +
                            $" without answering this request, after {_attempt[r]} attempt(s)"));
                    }
                }

                if (retry.Count > 0)
                {
                    logger.LogWarning("Batch {BatchId} ended {State} with {Count} requests unanswered; resubmitting them.", due.ProviderId, status.State, retry.Count);
                    foreach (var chunk in WriteChunks(retry, retryAttempt))
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

        Report(active, completedCount, failedCount);
    }

    private DateTimeOffset Now => options.TimeProvider.GetUtcNow();

    /// <summary>Samples of request <paramref name="r"/> that no batch delivered or will deliver.</summary>
    private int Uncovered(int r) =>
        _table.NumCompletionsAt(r) - (_got.TryGetValue(r, out var got) ? got.Count : 0) - _covered[r];

    private void MarkDone(int r)
    {
        if (!_done[r])
        {
            _done[r] = true;
            _remaining--;
        }
    }

    /// <summary>The custom id the provider echoes back: the key's 32 hex digits, or "u" and the position.</summary>
    private string CustomIdOf(int r) =>
        _table.TryGetKey(r, out var key) ? key.ToString() : "u" + r.ToString(CultureInfo.InvariantCulture);

    /// <summary>The request a custom id names, or -1. Only the exact forms <see cref="CustomIdOf"/> writes are accepted.</summary>
    private int RequestOf(string customId)
    {
        if (customId.Length == 32
            && ulong.TryParse(customId.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong high)
            && ulong.TryParse(customId.AsSpan(16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong low))
        {
            int r = _table.IndexOf(new CacheKey(high, low));
            return r >= 0 && string.Equals(CustomIdOf(r), customId, StringComparison.Ordinal) ? r : -1;
        }

        if (customId.Length > 1 && customId[0] == 'u'
            && int.TryParse(customId.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && index < _table.Count && !_table.TryGetKey(index, out _))
        {
            return string.Equals(CustomIdOf(index), customId, StringComparison.Ordinal) ? index : -1;
        }

        return -1;
    }

    private LmUncachedResult Result(int r, string batchLocalId, IReadOnlyList<LmPrediction> predictions)
    {
        if (_cost is not null)
        {
            foreach (var p in predictions)
            {
                _cost = p.HasErrors || _cost is null ? _cost : costOf!(p) is { } c ? _cost + c : null;
            }
        }

        string[] contributors = _contributors.Remove(r, out var earlier) ? [.. earlier, batchLocalId] : [batchLocalId];
        return Answer(r, predictions, contributors, held: contributors.Length - 1);
    }

    /// <summary>
    /// The result for request <paramref name="r"/>. Each batch that contributed to it is held (not forgotten) until the
    /// caller has stored the result; the first <paramref name="held"/> contributors are held already (since they
    /// delivered some of its samples).
    /// </summary>
    private LmUncachedResult Answer(int r, IReadOnlyList<LmPrediction> predictions, string[] contributors, int held)
    {
        foreach (var localId in contributors.AsSpan(held))
        {
            _unstored.AddOrUpdate(localId, 1, (_, n) => n + 1);
        }

        bool keyed = _table.TryGetKey(r, out var key);
        return new(_table.ResultIndexAt(r), predictions)
        {
            OnStored = contributors.Length == 0 ? null : () =>
            {
                foreach (var localId in contributors)
                {
                    if (keyed && journal is not null)
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

    /// <summary>A failed answer for request <paramref name="r"/>, carrying the batches that delivered some of its samples.</summary>
    private LmUncachedResult Error(int r, LmError error)
    {
        _got.Remove(r);
        string[] contributors = _contributors.Remove(r, out var earlier) ? [.. earlier] : [];
        return Answer(r, [LmPrediction.FromError(_table.PromptAt(r), error)], contributors, held: contributors.Length);
    }

    private IEnumerable<LmUncachedResult> FailChunk(Chunk chunk, LmError why)
    {
        TryDelete(chunk.File);
        journal?.DeleteBatchJob(chunk.LocalId);
        for (int i = 0; i < chunk.Count; i++)
        {
            int r = chunk.Requests[i];
            _covered[r] -= chunk.Samples[i];
            if (!_done[r] && Uncovered(r) > 0)
            {
                MarkDone(r);
                yield return Error(r, why);
            }
        }
    }

    private async Task<(Job? Job, bool QueueFull, LmError? Error)> SubmitAsync(Chunk chunk, CancellationToken ct)
    {
        // The journal learns of the batch before the provider does: a crash from here on cannot make a rerun pay twice.
        journal?.AddBatchJob(
            chunk.LocalId,
            backend.Name,
            modelIdentity,
            chunk.Attempt,
            chunk.EstimatedTokens,
            chunk.Count,
            KeyedItems(chunk));
        try
        {
            RewriteIfRemoved(chunk);
            string providerId = await backend.SubmitAsync(chunk.LocalId, chunk.File, chunk.Count, ct).ConfigureAwait(false);
            journal?.SetBatchProviderId(chunk.LocalId, providerId);
            TryDelete(chunk.File);
            logger.LogInformation("Submitted batch {BatchId}: {Count} requests.", providerId, chunk.Count);
            var job = new Job(chunk.LocalId, chunk.EstimatedTokens, chunk.Requests, chunk.Samples)
            {
                ProviderId = providerId,
                NextPoll = Now + options.PollInterval,
                PollDelay = options.PollInterval,
            };
            return (job, false, null);
        }
        catch (LmBatchQueueFullException e)
        {
            logger.LogWarning("The provider's batch queue is full ({Message}); waiting before submitting {Count} requests.", e.Message, chunk.Count);
            return (null, true, null);
        }
        catch (LmProviderException e)
        {
            // Only what the provider refused becomes failed predictions; anything else (a bug, a disk fault) propagates.
            logger.LogError(e, "Submitting a batch of {Count} requests failed.", chunk.Count);
            // The refusal is about the batch, not one prompt: never cached.
            return (null, false, e.Error with { Message = "could not submit a batch: " + e.Error.Message, IsPermanent = false });
        }
    }

    /// <summary>
    /// Writes a chunk's file again when it is gone: one that waited long for room in the provider's queue may have been
    /// removed meanwhile as stale (by another run's <see cref="DeleteStaleRequestFiles"/>, or a temp-file cleaner).
    /// </summary>
    private void RewriteIfRemoved(Chunk chunk)
    {
        if (File.Exists(chunk.File))
        {
            return;
        }

        logger.LogWarning("The request file {File} was removed while it waited; writing it again.", chunk.File);
        Directory.CreateDirectory(WorkingDirectory);
        var line = new ArrayBufferWriter<byte>(1024);
        using var stream = new FileStream(chunk.File, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        for (int i = 0; i < chunk.Count; i++)
        {
            int r = chunk.Requests[i];
            WriteLine(line, r, _table.PromptAt(r), chunk.Samples[i]);
            stream.Write(line.WrittenSpan);
        }
    }

    private IEnumerable<(CacheKey Key, int SampleCount)> KeyedItems(Chunk chunk)
    {
        for (int i = 0; i < chunk.Count; i++)
        {
            if (_table.TryGetKey(chunk.Requests[i], out var key))
            {
                yield return (key, chunk.Samples[i]);
            }
        }
    }

    /// <summary>Where request files are written.</summary>
    private string WorkingDirectory => options.WorkingDirectory ?? Path.Combine(Path.GetTempPath(), "lmwrapper-batches");

    /// <summary>
    /// Removes request files a day old from the working directory: left by a run that was killed between writing and
    /// submitting one (a file being written or uploaded by a live run is never that old).
    /// </summary>
    private void DeleteStaleRequestFiles()
    {
        if (!Directory.Exists(WorkingDirectory))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(WorkingDirectory, "lmw_*.jsonl"))
        {
            if (File.GetLastWriteTimeUtc(file) < DateTime.UtcNow - StaleRequestFileAge)
            {
                logger.LogInformation("Removing {File}, a request file an earlier run left behind.", file);
                TryDelete(file);
            }
        }
    }

    /// <summary>How old a request file in the working directory must be to count as left behind.</summary>
    internal static readonly TimeSpan StaleRequestFileAge = TimeSpan.FromDays(1);

    /// <summary>Writes request files for <paramref name="todo"/>, one at a time as the caller asks for the next.</summary>
    /// <param name="todo">The requests.</param>
    /// <param name="attempt">The attempt the files are.</param>
    /// <param name="maxRequests">At most this many requests per file.</param>
    /// <param name="reserved">Samples to ask for each request, already counted as covered; null: those uncovered now.</param>
    private IEnumerable<Chunk> WriteChunks(IEnumerable<int> todo, int attempt, int maxRequests = int.MaxValue, int[]? reserved = null)
    {
        string dir = WorkingDirectory;
        Directory.CreateDirectory(dir);
        int perChunk = Math.Min(maxRequests, _limits.MaxRequests);
        var line = new ArrayBufferWriter<byte>(1024);
        Chunk? chunk = null;
        FileStream? stream = null;
        try
        {
            foreach (int r in todo)
            {
                int count = reserved?[r] ?? Uncovered(r);
                if (count <= 0 || _done[r])
                {
                    continue;
                }

                var prompt = _table.PromptAt(r);
                WriteLine(line, r, prompt, count);
                long tokens = backend.EstimateEnqueuedTokens(prompt, count);
                if (chunk is not null && (chunk.Count >= perChunk
                    || chunk.Bytes + line.WrittenCount > _limits.MaxFileBytes
                    || (_limits.MaxEnqueuedTokens is { } cap && chunk.EstimatedTokens + tokens > cap)))
                {
                    stream!.Dispose();
                    stream = null;
                    yield return chunk;
                    chunk = null;
                }

                if (chunk is null)
                {
                    string localId = "lmw_" + Guid.NewGuid().ToString("N");
                    chunk = new Chunk(localId, Path.Combine(dir, localId + ".jsonl"), attempt, Math.Min(perChunk, 1 << 16));
                    stream = new FileStream(chunk.File, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
                }

                stream!.Write(line.WrittenSpan);
                chunk.Bytes += line.WrittenCount;
                chunk.EstimatedTokens += tokens;
                chunk.Requests.Add(r);
                chunk.Samples.Add(count);
                if (reserved is null)
                {
                    _covered[r] += count;
                }
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
            if (stream is not null)
            {
                stream.Dispose(); // a file never handed out (the run stopped while writing it)
                TryDelete(chunk!.File);
            }
        }
    }

    /// <summary>Puts request <paramref name="r"/>'s line of a request file, with its newline, in <paramref name="line"/>.</summary>
    private void WriteLine(ArrayBufferWriter<byte> line, int r, LmPrompt prompt, int samples)
    {
        line.ResetWrittenCount();
        backend.WriteRequestLine(line, CustomIdOf(r), prompt, samples);
        line.Write("\n"u8);
    }

    private Func<string, (LmPrompt Prompt, int NumCompletions)?> Lookup(Job job) =>
        customId => job.Find(RequestOf(customId)) is int at and >= 0 ? (_table.PromptAt(job.Requests[at]), job.Samples[at]) : null;

    private async Task CleanupAsync(string localId, string? providerId, CancellationToken ct)
    {
        if (providerId is not null && options.DeleteProviderFiles)
        {
            try
            {
                await backend.CleanupAsync(providerId, ct).ConfigureAwait(false);
            }
            catch (LmProviderException e)
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

    private void Report(List<Job> active, int completed, int failed) =>
        options.Progress?.Report(new BatchProgress(
            _table.Count, active.Sum(j => j.Count) + completed + failed, completed, failed, active.Count, _table.CachedPrompts, _cost));

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

    /// <summary>A request file being written or waiting to be submitted.</summary>
    private sealed class Chunk(string localId, string file, int attempt, int capacity)
    {
        public string LocalId { get; } = localId;

        public string File { get; } = file;

        public int Attempt { get; } = attempt;

        /// <summary>The requests (positions), in the order of the file's lines.</summary>
        public List<int> Requests { get; } = new(capacity);

        /// <summary>How many samples each line asks for.</summary>
        public List<int> Samples { get; } = new(capacity);

        public int Count => Requests.Count;

        public long Bytes { get; set; }

        public long EstimatedTokens { get; set; }
    }

    /// <summary>A batch at the provider, with its requests sorted by position for lookups.</summary>
    private sealed class Job
    {
        private readonly List<int> _requests;
        private readonly List<int> _samples;

        public Job(string localId, long estimatedTokens, List<int> requests, List<int> samples)
        {
            LocalId = localId;
            EstimatedTokens = estimatedTokens;
            CollectionsMarshal.AsSpan(requests).Sort(CollectionsMarshal.AsSpan(samples));
            _requests = requests;
            _samples = samples;
        }

        public string LocalId { get; }

        public long EstimatedTokens { get; }

        public string? ProviderId { get; init; }

        /// <summary>The requests (positions), ascending.</summary>
        public ReadOnlySpan<int> Requests => CollectionsMarshal.AsSpan(_requests);

        /// <summary>How many samples the batch asks for each request.</summary>
        public ReadOnlySpan<int> Samples => CollectionsMarshal.AsSpan(_samples);

        public int Count => _requests.Count;

        public DateTimeOffset NextPoll { get; set; }

        public TimeSpan PollDelay { get; set; }

        /// <summary>Where request <paramref name="r"/> is in this batch, or -1.</summary>
        public int Find(int r) => r < 0 ? -1 : Math.Max(-1, Requests.BinarySearch(r));
    }
}
