using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LmWrapper.Caching;
using LmWrapper.Diagnostics;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Batching;

/// <summary>
/// Runs cache misses through a provider's batch API: reattaches to batches an earlier run left behind (from the journal
/// in the cache database), writes and splits request files, records every batch before it is submitted, waits with
/// growing pauses, collects results, resubmits what expired, was cancelled or failed (a bounded number of times), and
/// cleans up provider files once results are cached. One method per phase (<see cref="ReattachAsync"/>,
/// <see cref="Plan"/>, <see cref="SubmitAsync"/>, <see cref="PollAsync"/>, <see cref="CollectAsync"/>) over one
/// <see cref="Run"/>; all time comes from <see cref="BatchOptions.TimeProvider"/>.
/// </summary>
/// <remarks>
/// A run may hold a million requests, so the state kept per request is a few array slots indexed by the request's
/// position (samples delivered, attempt, done), and a batch lists its requests as two integer arrays; the prompts stay
/// in the caller's table and request lines go straight to files.
/// </remarks>
internal sealed class BatchOrchestrator(
    IBatchBackend backend, LmCache? journal, string modelIdentity, BatchOptions options, ILogger logger, Func<LmPrediction, decimal?>? costOf = null)
{
    private readonly BatchLimits _limits = options.Limits ?? backend.Limits;

    /// <summary>Where batch states and batch activities are recorded; null for nowhere.</summary>
    public ModelTelemetry? Telemetry { get; init; }

    /// <summary>What the run has spent so far, for progress reports; null when unknown.</summary>
    public Func<Costs.LmSpendSnapshot>? Spend { get; init; }

    /// <summary>
    /// Runs the requests of <paramref name="table"/> through batches and yields each result as it is known. The
    /// orchestrator holds only settings; everything about one run lives in a <see cref="Run"/>, so one orchestrator can
    /// serve several runs, one after another or at once.
    /// </summary>
    public async IAsyncEnumerable<LmUncachedResult> RunAsync(
        IUncachedRequestTable table, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var run = new Run(table, costOf is null ? null : 0m) { Parent = Activity.Current?.Context ?? default };
        await ReattachAsync(run, cancellationToken).ConfigureAwait(false);
        run.Fresh = Plan(run).GetEnumerator();
        try
        {
            while (run.Remaining > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await foreach (var failed in SubmitAsync(run, cancellationToken).ConfigureAwait(false))
                {
                    yield return failed;
                }

                Report(run);
                await ForgetCollectedAsync(run, waitForAll: false, cancellationToken).ConfigureAwait(false);
                if (run.Active.Count == 0)
                {
                    CheckEveryRequestIsCovered(run);
                    continue;
                }

                var (due, status) = await PollAsync(run, cancellationToken).ConfigureAwait(false);
                if (!status.IsTerminal)
                {
                    continue;
                }

                await foreach (var result in CollectAsync(run, due, status, cancellationToken).ConfigureAwait(false))
                {
                    yield return result;
                }
            }

            await ForgetCollectedAsync(run, waitForAll: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var chunk in run.Pending)
            {
                TryDelete(chunk.File);
            }

            FlushAnswered(run);
        }

        Report(run);
    }

    /// <summary>Phase 1: reattaches to batches an earlier run submitted for these keys (and tidies the journal).</summary>
    private async Task ReattachAsync(Run run, CancellationToken cancellationToken)
    {
        if (journal is null)
        {
            return;
        }

        var table = run.Table;
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
                run.Covered[r] += sampleCount;
                run.Attempt[r] = Math.Max(run.Attempt[r], entry.Attempt);
            }

            var job = new Job(entry.LocalId, entry.EstimatedTokens, requests, samples) { ProviderId = providerId, NextPoll = Now, SubmittedAt = entry.RecordedAt };
            run.Active.Add(job);
            LmLog.BatchReattached(logger, providerId, job.Count);
        }

        foreach (var entry in emptied)
        {
            await CleanupAsync(run, entry.LocalId, entry.ProviderId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Phase 2: plans the request files for everything no reattached batch covers, each written only when the submit
    /// phase asks for the next (a crash leaves at most one behind, and files a day old are removed now). What each
    /// request needs beyond the reattached batches is fixed (and counted as covered) here, as if every file were written
    /// up front: a reattached batch that answers a request, or only some of its samples, before the request's file is
    /// written must not make it be asked for again.
    /// </summary>
    private IEnumerable<Chunk> Plan(Run run)
    {
        DeleteStaleRequestFiles();
        int count = run.Table.Count;
        var freshSamples = new int[count];
        for (int r = 0; r < count; r++)
        {
            freshSamples[r] = Math.Max(0, run.Uncovered(r));
            run.Covered[r] += freshSamples[r];
        }

        return WriteChunks(run, Enumerable.Range(0, count).Where(r => freshSamples[r] > 0), attempt: 1, reserved: freshSamples);
    }

    /// <summary>
    /// Phase 3: submits what the provider's token queue has room for, planned files first come first. Yields the
    /// requests that fail for good (a refused submission, or one request too large for an empty queue).
    /// </summary>
    private async IAsyncEnumerable<LmUncachedResult> SubmitAsync(Run run, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = run.Pending;
        while (true)
        {
            if (pending.Count == 0 && run.FreshLeft)
            {
                if (run.Fresh!.MoveNext())
                {
                    pending.Enqueue(run.Fresh.Current);
                }
                else
                {
                    run.FreshLeft = false;
                }
            }

            if (pending.Count == 0)
            {
                yield break;
            }

            var chunk = pending.Peek();
            long enqueued = run.Active.Sum(j => j.EstimatedTokens);
            if (_limits.MaxEnqueuedTokens is { } cap && run.Active.Count > 0 && enqueued + chunk.EstimatedTokens > cap)
            {
                yield break; // wait for a running batch to finish
            }

            pending.Dequeue();
            var outcome = await SubmitChunkAsync(run, chunk, cancellationToken).ConfigureAwait(false);
            if (outcome.Job is { } job)
            {
                run.Active.Add(job);
            }
            else if (outcome.QueueFull)
            {
                if (run.Active.Count > 0)
                {
                    var requeue = new Queue<Chunk>([chunk, .. pending]);
                    pending.Clear();
                    foreach (var c in requeue)
                    {
                        pending.Enqueue(c);
                    }

                    yield break;
                }

                if (chunk.Count > 1)
                {
                    // Nothing is running and it still does not fit: halve it.
                    journal?.DeleteBatchJob(chunk.LocalId);
                    TryDelete(chunk.File);
                    for (int i = 0; i < chunk.Count; i++)
                    {
                        run.Covered[chunk.Requests[i]] -= chunk.Samples[i];
                    }

                    var halves = WriteChunks(run, chunk.Requests, chunk.Attempt, Math.Max(1, chunk.Count / 2)).ToList();
                    var rest = pending.ToList();
                    pending.Clear();
                    foreach (var c in halves.Concat(rest))
                    {
                        pending.Enqueue(c);
                    }
                }
                else
                {
                    foreach (var r in FailChunk(run, chunk, new LmError(LmErrorKind.RateLimitExhausted, "could not submit a batch: the provider's queue of enqueued tokens has no room even for this single request")))
                    {
                        CountFailed(run);
                        yield return r;
                    }
                }
            }
            else
            {
                foreach (var r in FailChunk(run, chunk, outcome.Error!))
                {
                    CountFailed(run);
                    yield return r;
                }
            }
        }
    }

    /// <summary>With nothing running, nothing planned and nothing pending, every request must be answered.</summary>
    private static void CheckEveryRequestIsCovered(Run run)
    {
        if (run.Pending.Count > 0 || run.FreshLeft)
        {
            return;
        }

        for (int r = 0; r < run.Table.Count && run.Remaining > 0; r++)
        {
            if (!run.Done[r])
            {
                throw new InvalidOperationException($"No batch covers request {r} (an internal error of the batch orchestration).");
            }
        }
    }

    /// <summary>
    /// Phase 4: waits for the running batch that is due a look, then looks. A batch still running is given its next,
    /// longer pause; a finished one is taken off the active list for <see cref="CollectAsync"/>.
    /// </summary>
    private async Task<(Job Due, BatchJobStatus Status)> PollAsync(Run run, CancellationToken cancellationToken)
    {
        var due = run.Active.MinBy(j => j.NextPoll)!;
        var wait = due.NextPoll - Now;
        if (wait > TimeSpan.Zero)
        {
            FlushAnswered(run);
            await Task.Delay(wait, options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }

        var status = await backend.GetStatusAsync(due.ProviderId!, cancellationToken).ConfigureAwait(false);
        if (!status.IsTerminal)
        {
            due.PollDelay = due.PollDelay == TimeSpan.Zero ? options.PollInterval : TimeSpan.FromTicks(Math.Min(options.MaxPollInterval.Ticks, (long)(due.PollDelay.Ticks * 1.5)));
            due.NextPoll = Now + due.PollDelay;
        }
        else
        {
            run.Active.Remove(due);
        }

        return (due, status);
    }

    /// <summary>
    /// Phase 5: collects a finished batch: yields each request it answered (or the request's error line), gathers the
    /// samples of requests it answered only in part, and resubmits (or, after the last attempt, fails) what it left
    /// unanswered.
    /// </summary>
    private async IAsyncEnumerable<LmUncachedResult> CollectAsync(
        Run run, Job due, BatchJobStatus status, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var table = run.Table;
        LmLog.BatchCollecting(logger, due.ProviderId, status.State);
        Telemetry?.RecordBatchEnded(run.Parent, due.SubmittedAt, due.ProviderId, due.Count, status);
        var received = new bool[due.Count];
        await foreach (var line in backend.ReadResultsAsync(due.ProviderId!, Lookup(run, due), cancellationToken).ConfigureAwait(false))
        {
            int at = due.Find(run.RequestOf(line.CustomId));
            if (at < 0 || received[at])
            {
                continue;
            }

            received[at] = true;
            int r = due.Requests[at];
            if (run.Done[r])
            {
                continue;
            }

            if (line.Predictions.Count == 1 && line.Predictions[0].HasErrors)
            {
                run.MarkDone(r);
                CountFailed(run);
                yield return Result(run, r, due.LocalId, [line.Predictions[0]]);
                continue;
            }

            run.Covered[r] -= due.Samples[at];
            int wanted = table.NumCompletionsAt(r);
            run.Got.TryGetValue(r, out var earlier);
            if ((earlier?.Count ?? 0) + line.Predictions.Count >= wanted)
            {
                run.MarkDone(r);
                CountCompleted(run);
                IReadOnlyList<LmPrediction> all = earlier is null
                    ? line.Predictions.Count == wanted ? line.Predictions : line.Predictions.Take(wanted).ToList()
                    : earlier.Concat(line.Predictions).Take(wanted).ToList();
                run.Got.Remove(r);
                yield return Result(run, r, due.LocalId, all);
            }
            else
            {
                // Some samples now, the rest from a later batch.
                if (earlier is null)
                {
                    run.Got[r] = earlier = [];
                }

                earlier.AddRange(line.Predictions);
                if (!run.Contributors.TryGetValue(r, out var batches))
                {
                    run.Contributors[r] = batches = [];
                }

                batches.Add(due.LocalId);

                // Held until the request is answered and stored: a crash before then leaves this batch in the
                // journal (and its results at the provider), so a rerun gets these paid-for samples back.
                run.Unstored.AddOrUpdate(due.LocalId, 1, (_, n) => n + 1);
            }
        }

        // Requests the batch did not answer, or answered with fewer samples than asked (expired, cancelled,
        // failed): resubmit what is missing, or give up.
        var retry = new List<int>();
        int retryAttempt = 0;
        for (int at = 0; at < due.Count; at++)
        {
            int r = due.Requests[at];
            if (run.Done[r])
            {
                continue;
            }

            if (!received[at])
            {
                run.Covered[r] -= due.Samples[at];
            }

            if (run.Uncovered(r) <= 0)
            {
                continue; // another batch still covers it
            }

            if (run.Attempt[r] < options.MaxAttempts)
            {
                run.Attempt[r]++;
                retryAttempt = Math.Max(retryAttempt, run.Attempt[r]);
                retry.Add(r);
            }
            else
            {
                run.MarkDone(r);
                CountFailed(run);
                yield return Error(run, r, new LmError(
                    LmErrorKind.Server,
                    $"batch {due.ProviderId} ended {status.State.ToString().ToLowerInvariant()}" +
                    (status.Message is null ? string.Empty : $" ({status.Message})") +
                    $" without answering this request, after {run.Attempt[r]} attempt(s)"));
            }
        }

        if (retry.Count > 0)
        {
            LmLog.BatchResubmitting(logger, due.ProviderId, status.State, retry.Count);
            foreach (var chunk in WriteChunks(run, retry, retryAttempt))
            {
                run.Pending.Enqueue(chunk);
            }
        }

        run.Collected.Add((due.LocalId, due.ProviderId));
    }

    private DateTimeOffset Now => options.TimeProvider.GetUtcNow();

    private void CountCompleted(Run run)
    {
        run.Completed++;
        Telemetry?.RecordBatchRequests("completed", 1);
    }

    private void CountFailed(Run run)
    {
        run.Failed++;
        Telemetry?.RecordBatchRequests("failed", 1);
    }

    private LmUncachedResult Result(Run run, int r, string batchLocalId, IReadOnlyList<LmPrediction> predictions)
    {
        if (run.Cost is not null)
        {
            foreach (var p in predictions)
            {
                run.Cost = p.HasErrors || run.Cost is null ? run.Cost : costOf!(p) is { } c ? run.Cost + c : null;
            }
        }

        string[] contributors = run.Contributors.Remove(r, out var earlier) ? [.. earlier, batchLocalId] : [batchLocalId];
        return Answer(run, r, predictions, contributors, held: contributors.Length - 1);
    }

    /// <summary>
    /// The result for request <paramref name="r"/>. Each batch that contributed to it is held (not forgotten) until the
    /// caller has stored the result; the first <paramref name="held"/> contributors are held already (since they
    /// delivered some of its samples).
    /// </summary>
    private LmUncachedResult Answer(Run run, int r, IReadOnlyList<LmPrediction> predictions, string[] contributors, int held)
    {
        foreach (var localId in contributors.AsSpan(held))
        {
            run.Unstored.AddOrUpdate(localId, 1, (_, n) => n + 1);
        }

        bool keyed = run.Table.TryGetKey(r, out var key);
        return new(run.Table.ResultIndexAt(r), predictions)
        {
            OnStored = contributors.Length == 0 ? null : () =>
            {
                foreach (var localId in contributors)
                {
                    if (keyed && journal is not null)
                    {
                        run.Answered.Enqueue((localId, key));
                    }

                    run.Unstored.AddOrUpdate(localId, 0, (_, n) => n - 1);
                }

                run.Stored.Release();
            },
        };
    }

    /// <summary>
    /// Cleans up collected batches whose results the caller has all stored; with <paramref name="waitForAll"/>, waits
    /// (asynchronously, so the caller can store them meanwhile) until every collected batch can be cleaned up.
    /// </summary>
    private async Task ForgetCollectedAsync(Run run, bool waitForAll, CancellationToken ct)
    {
        var collected = run.Collected;
        while (collected.Count > 0)
        {
            foreach (var batch in collected.ToList())
            {
                if (run.Unstored.GetValueOrDefault(batch.LocalId) <= 0)
                {
                    collected.Remove(batch);
                    await CleanupAsync(run, batch.LocalId, batch.ProviderId, ct).ConfigureAwait(false);
                }
            }

            if (!waitForAll || collected.Count == 0)
            {
                return;
            }

            await run.Stored.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>A failed answer for request <paramref name="r"/>, carrying the batches that delivered some of its samples.</summary>
    private LmUncachedResult Error(Run run, int r, LmError error)
    {
        run.Got.Remove(r);
        string[] contributors = run.Contributors.Remove(r, out var earlier) ? [.. earlier] : [];
        return Answer(run, r, [LmPrediction.FromError(run.Table.PromptAt(r), error)], contributors, held: contributors.Length);
    }

    private IEnumerable<LmUncachedResult> FailChunk(Run run, Chunk chunk, LmError why)
    {
        TryDelete(chunk.File);
        journal?.DeleteBatchJob(chunk.LocalId);
        for (int i = 0; i < chunk.Count; i++)
        {
            int r = chunk.Requests[i];
            run.Covered[r] -= chunk.Samples[i];
            if (!run.Done[r] && run.Uncovered(r) > 0)
            {
                run.MarkDone(r);
                yield return Error(run, r, why);
            }
        }
    }

    private async Task<(Job? Job, bool QueueFull, LmError? Error)> SubmitChunkAsync(Run run, Chunk chunk, CancellationToken ct)
    {
        // The journal learns of the batch before the provider does: a crash from here on cannot make a rerun pay twice.
        journal?.AddBatchJob(
            chunk.LocalId,
            backend.Name,
            modelIdentity,
            chunk.Attempt,
            chunk.EstimatedTokens,
            chunk.Count,
            KeyedItems(run, chunk),
            Now);
        try
        {
            RewriteIfRemoved(run, chunk);
            string providerId = await backend.SubmitAsync(chunk.LocalId, chunk.File, chunk.Count, ct).ConfigureAwait(false);
            journal?.SetBatchProviderId(chunk.LocalId, providerId);
            TryDelete(chunk.File);
            LmLog.BatchSubmitted(logger, providerId, chunk.Count);
            var job = new Job(chunk.LocalId, chunk.EstimatedTokens, chunk.Requests, chunk.Samples)
            {
                ProviderId = providerId,
                NextPoll = Now + options.PollInterval,
                PollDelay = options.PollInterval,
                SubmittedAt = Now,
            };
            Telemetry?.RecordBatchSubmitted(chunk.Count);
            return (job, false, null);
        }
        catch (LmAuthenticationException)
        {
            // A rejected key is a clear answer: nothing was created, so nothing is left for a rerun to find.
            journal?.DeleteBatchJob(chunk.LocalId);
            TryDelete(chunk.File);
            throw;
        }
        catch (LmBatchQueueFullException e)
        {
            LmLog.BatchQueueFull(logger, e.Message, chunk.Count);
            return (null, true, null);
        }
        catch (LmProviderException e)
        {
            // Only what the provider refused becomes failed predictions; anything else (a bug, a disk fault) propagates.
            LmLog.BatchSubmitFailed(logger, e, chunk.Count);
            // The refusal is about the batch, not one prompt: never cached.
            return (null, false, e.Error with { Message = "could not submit a batch: " + e.Error.Message, IsPermanent = false });
        }
    }

    /// <summary>
    /// Writes a chunk's file again when it is gone: one that waited long for room in the provider's queue may have been
    /// removed meanwhile as stale (by another run's <see cref="DeleteStaleRequestFiles"/>, or a temp-file cleaner).
    /// </summary>
    private void RewriteIfRemoved(Run run, Chunk chunk)
    {
        if (File.Exists(chunk.File))
        {
            return;
        }

        LmLog.BatchFileRewritten(logger, chunk.File);
        CreateWorkingDirectory(WorkingDirectory);
        var line = new ArrayBufferWriter<byte>(1024);
        using var stream = CreateRequestFile(chunk.File);
        for (int i = 0; i < chunk.Count; i++)
        {
            int r = chunk.Requests[i];
            WriteLine(run, line, r, run.Table.PromptAt(r), chunk.Samples[i]);
            stream.Write(line.WrittenSpan);
        }
    }

    private static IEnumerable<(CacheKey Key, int SampleCount)> KeyedItems(Run run, Chunk chunk)
    {
        for (int i = 0; i < chunk.Count; i++)
        {
            if (run.Table.TryGetKey(chunk.Requests[i], out var key))
            {
                yield return (key, chunk.Samples[i]);
            }
        }
    }

    /// <summary>Where request files are written.</summary>
    private string WorkingDirectory => options.WorkingDirectory ?? Path.Combine(Path.GetTempPath(), "lmwrapper-batches");

    /// <summary>
    /// Removes request files left by a run that was killed between writing and submitting one (or before deleting it):
    /// those whose writing process has ended, and any a day old (a file being written or uploaded by a live run is never
    /// that old).
    /// </summary>
    private void DeleteStaleRequestFiles()
    {
        if (!Directory.Exists(WorkingDirectory))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(WorkingDirectory, "lmw_*.jsonl"))
        {
            if (File.GetLastWriteTimeUtc(file) < (Now - StaleRequestFileAge).UtcDateTime || WriterIsGone(file))
            {
                LmLog.StaleBatchFileRemoved(logger, file);
                TryDelete(file);
            }
        }
    }

    /// <summary>
    /// A request file's name: its local id and the writing process's id (<c>lmw_{id}.p{pid}.jsonl</c>), so that a later run
    /// can tell a file a killed process left (its process is gone) from one a live run in another process is uploading.
    /// </summary>
    private static string RequestFileName(string localId) =>
        $"{localId}.p{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.jsonl";

    /// <summary>Whether the process that wrote a request file (named by <see cref="RequestFileName"/>) has ended.</summary>
    private static bool WriterIsGone(string file)
    {
        string name = Path.GetFileNameWithoutExtension(file);
        int at = name.LastIndexOf(".p", StringComparison.Ordinal);
        if (at < 0 || !int.TryParse(name.AsSpan(at + 2), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId)
        {
            return false; // not ours to judge (an older name), or this process's own
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true; // no such process
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>How old a request file in the working directory must be to count as left behind.</summary>
    internal static readonly TimeSpan StaleRequestFileAge = TimeSpan.FromDays(1);

    /// <summary>Writes request files for <paramref name="todo"/>, one at a time as the caller asks for the next.</summary>
    /// <param name="run">The run.</param>
    /// <param name="todo">The requests.</param>
    /// <param name="attempt">The attempt the files are.</param>
    /// <param name="maxRequests">At most this many requests per file.</param>
    /// <param name="reserved">Samples to ask for each request, already counted as covered; null: those uncovered now.</param>
    private IEnumerable<Chunk> WriteChunks(Run run, IEnumerable<int> todo, int attempt, int maxRequests = int.MaxValue, int[]? reserved = null)
    {
        string dir = WorkingDirectory;
        CreateWorkingDirectory(dir);
        int perChunk = Math.Min(maxRequests, _limits.MaxRequests);
        var line = new ArrayBufferWriter<byte>(1024);
        Chunk? chunk = null;
        FileStream? stream = null;
        try
        {
            foreach (int r in todo)
            {
                int count = reserved?[r] ?? run.Uncovered(r);
                if (count <= 0 || run.Done[r])
                {
                    continue;
                }

                var prompt = run.Table.PromptAt(r);
                WriteLine(run, line, r, prompt, count);
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
                    chunk = new Chunk(localId, Path.Combine(dir, RequestFileName(localId)), attempt, Math.Min(perChunk, 1 << 16));
                    stream = CreateRequestFile(chunk.File);
                }

                stream!.Write(line.WrittenSpan);
                chunk.Bytes += line.WrittenCount;
                chunk.EstimatedTokens += tokens;
                chunk.Requests.Add(r);
                chunk.Samples.Add(count);
                if (reserved is null)
                {
                    run.Covered[r] += count;
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
    private void WriteLine(Run run, ArrayBufferWriter<byte> line, int r, LmPrompt prompt, int samples)
    {
        line.ResetWrittenCount();
        backend.WriteRequestLine(line, run.CustomIdOf(r), prompt, samples);
        line.Write("\n"u8);
    }

    private static Func<string, (LmPrompt Prompt, int NumCompletions)?> Lookup(Run run, Job job) =>
        customId => job.Find(run.RequestOf(customId)) is int at and >= 0 ? (run.Table.PromptAt(job.Requests[at]), job.Samples[at]) : null;

    private async Task CleanupAsync(Run run, string localId, string? providerId, CancellationToken ct)
    {
        if (providerId is not null && options.DeleteProviderFiles)
        {
            try
            {
                await backend.CleanupAsync(providerId, ct).ConfigureAwait(false);
            }
            catch (LmProviderException e)
            {
                LmLog.BatchCleanupFailed(logger, e, providerId);
                return; // keep the journal entry so a later run tries again
            }
        }

        if (journal is not null)
        {
            FlushAnswered(run);
            journal.DeleteBatchJob(localId);
        }
    }

    private void FlushAnswered(Run run)
    {
        if (journal is null || run.Answered.IsEmpty)
        {
            return;
        }

        var done = new List<(string, CacheKey)>();
        while (run.Answered.TryDequeue(out var item))
        {
            done.Add(item);
        }

        journal.RemoveBatchItems(done);
    }

    private void Report(Run run) =>
        options.Progress?.Report(new BatchProgress(
            run.Table.Count, run.Active.Sum(j => j.Count) + run.Completed + run.Failed, run.Completed, run.Failed, run.Active.Count, run.Table.CachedPrompts, run.Cost)
        {
            Spend = Spend?.Invoke(),
        });

    /// <summary>Creates the working directory, readable by its owner only on Unix (mode 0700) when it is new.</summary>
    private static void CreateWorkingDirectory(string dir)
    {
        if (OperatingSystem.IsWindows() || Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            return;
        }

        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Creates a request file (the prompts, in the provider's format) readable by its owner only (mode 0600 on Unix).</summary>
    private static FileStream CreateRequestFile(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            BufferSize = 1 << 16,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return new FileStream(path, options);
    }

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
    /// Everything one run knows. A run may hold a million requests, so the state kept per request is a few array slots
    /// indexed by the request's position; batches list their requests as integer arrays.
    /// </summary>
    private sealed class Run : IDisposable
    {
        public Run(IUncachedRequestTable table, decimal? cost)
        {
            Table = table;
            Covered = new int[table.Count];
            Attempt = new int[table.Count];
            Done = new bool[table.Count];
            Remaining = table.Count;
            Array.Fill(Attempt, 1);
            Cost = cost;
        }

        public IUncachedRequestTable Table { get; }

        /// <summary>The activity batches of this run are children of (the <c>PredictMany</c> run's).</summary>
        public ActivityContext Parent { get; init; }

        /// <summary>Per request: samples that submitted (or about to be submitted) batches will deliver.</summary>
        public int[] Covered { get; }

        /// <summary>Per request: the attempt it is on.</summary>
        public int[] Attempt { get; }

        /// <summary>Per request: whether it was answered (or failed for good).</summary>
        public bool[] Done { get; }

        /// <summary>Requests not done yet.</summary>
        public int Remaining { get; private set; }

        /// <summary>Rare per-request extras: samples gathered from batches that delivered only some of them…</summary>
        public Dictionary<int, List<LmPrediction>> Got { get; } = [];

        /// <summary>…and those batches.</summary>
        public Dictionary<int, List<string>> Contributors { get; } = [];

        /// <summary>Batches at the provider that this run waits for.</summary>
        public List<Job> Active { get; } = [];

        /// <summary>Collected batches, forgotten (journal entry and provider files) once the caller stored all their results.</summary>
        public List<(string LocalId, string? ProviderId)> Collected { get; } = [];

        /// <summary>Request files written and waiting for room in the provider's queue.</summary>
        public Queue<Chunk> Pending { get; } = new();

        /// <summary>The planned request files, written one at a time as the submit phase asks for them.</summary>
        public IEnumerator<Chunk>? Fresh { get; set; }

        /// <summary>Whether <see cref="Fresh"/> may have more.</summary>
        public bool FreshLeft { get; set; } = true;

        /// <summary>Answers the caller stored, whose journal items can go.</summary>
        public ConcurrentQueue<(string LocalId, CacheKey Key)> Answered { get; } = new();

        /// <summary>
        /// Results handed out but not yet stored by the caller, per batch: a batch is forgotten only once none are left,
        /// so a crash can never lose an answer that was paid for.
        /// </summary>
        public ConcurrentDictionary<string, int> Unstored { get; } = new(StringComparer.Ordinal);

        /// <summary>Released each time the caller stores a result.</summary>
        public SemaphoreSlim Stored { get; } = new(0);

        public int Completed { get; set; }

        public int Failed { get; set; }

        /// <summary>What the answered requests cost so far; null when unknown.</summary>
        public decimal? Cost { get; set; }

        /// <summary>Samples of request <paramref name="r"/> that no batch delivered or will deliver.</summary>
        public int Uncovered(int r) =>
            Table.NumCompletionsAt(r) - (Got.TryGetValue(r, out var got) ? got.Count : 0) - Covered[r];

        public void MarkDone(int r)
        {
            if (!Done[r])
            {
                Done[r] = true;
                Remaining--;
            }
        }

        /// <summary>The custom id the provider echoes back: the key's 32 hex digits, or "u" and the position.</summary>
        public string CustomIdOf(int r) =>
            Table.TryGetKey(r, out var key) ? key.ToString() : "u" + r.ToString(CultureInfo.InvariantCulture);

        /// <summary>The request a custom id names, or -1. Only the exact forms <see cref="CustomIdOf"/> writes are accepted.</summary>
        public int RequestOf(string customId)
        {
            if (customId.Length == 32
                && ulong.TryParse(customId.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong high)
                && ulong.TryParse(customId.AsSpan(16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong low))
            {
                int r = Table.IndexOf(new CacheKey(high, low));
                return r >= 0 && string.Equals(CustomIdOf(r), customId, StringComparison.Ordinal) ? r : -1;
            }

            if (customId.Length > 1 && customId[0] == 'u'
                && int.TryParse(customId.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                && index < Table.Count && !Table.TryGetKey(index, out _))
            {
                return string.Equals(CustomIdOf(index), customId, StringComparison.Ordinal) ? index : -1;
            }

            return -1;
        }

        // Stored is not disposed: the caller may still report a stored result after a run stopped early.
        public void Dispose() => Fresh?.Dispose();
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

        /// <summary>When the batch was submitted (or recorded, for a reattached one).</summary>
        public DateTimeOffset SubmittedAt { get; init; }

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
