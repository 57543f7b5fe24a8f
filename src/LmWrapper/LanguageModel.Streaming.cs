using System.Runtime.CompilerServices;
using LmWrapper.Caching;
using LmWrapper.Diagnostics;
using LmWrapper.Serialization;
using Microsoft.Extensions.Logging;

namespace LmWrapper;

/// <content>Streaming: <see cref="PredictStreamingAsync"/> and the providers' hook.</content>
public abstract partial class LanguageModel
{
    /// <summary>
    /// Runs one prompt and streams the completion as it is generated: updates with new text (and, where the provider
    /// streams them, its tokens and their logprobs), then one final update whose <see cref="LmStreamingUpdate.Prediction"/>
    /// is the finished prediction, equal to what <see cref="PredictAsync(LmPrompt, CancellationToken)"/> returns for the
    /// prompt (text, tokens, logprobs, usage, finish reason) and stored in the cache the same way.
    /// </summary>
    /// <remarks>
    /// <para>The prompt is validated when this method is called, before anything is sent. A prompt the cache answers
    /// streams its cached samples at once (each as one update, <see cref="LmStreamingUpdate.WasCached"/> set); samples the
    /// cache lacks are streamed from the model. With <see cref="LmPrompt.NumCompletions"/> &gt; 1 the samples' updates
    /// interleave; <see cref="LmStreamingUpdate.SampleIndex"/> tells them apart.</para>
    /// <para>Passing failures are retried only before the first piece of text is streamed. A request the provider refuses
    /// before that ends the stream with a failed prediction, as <c>PredictAsync</c> returns it; a failure after text was
    /// streamed throws <see cref="LmProviderException"/> (the text already seen cannot be taken back) and nothing is
    /// cached. Cancelling (or stopping the enumeration) closes the provider's stream.</para>
    /// </remarks>
    /// <param name="prompt">The prompt.</param>
    /// <param name="cancellationToken">Cancels the call and closes the stream.</param>
    /// <returns>The updates, the final one carrying the prediction.</returns>
    /// <exception cref="LmPromptException">The prompt is invalid for this model; nothing was sent (thrown by this call, not by the enumeration).</exception>
    public IAsyncEnumerable<LmStreamingUpdate> PredictStreamingAsync(LmPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ValidatePrompt(prompt);
        CheckFits(prompt);
        return PredictStreamingCoreAsync(prompt, cancellationToken);
    }

    /// <summary>
    /// Streams the new samples of one request the cache could not answer. The default runs
    /// <see cref="PredictUncachedAsync(LmUncachedRequest, CancellationToken)"/> and yields each whole sample as one update;
    /// a provider that can stream overrides it.
    /// </summary>
    /// <remarks>
    /// Yield text updates with <see cref="LmStreamingUpdate.SampleIndex"/> in [0, <see cref="LmUncachedRequest.NumCompletions"/>)
    /// (numbered from the request's first new sample), and for every sample exactly one update whose
    /// <see cref="LmStreamingUpdate.Prediction"/> is that sample's finished prediction (it may carry the sample's last text
    /// too); or one update with a failed prediction that stands for every sample. Throw <see cref="LmProviderException"/>
    /// for what the provider refused or failed at, other exceptions for faults that should stop the caller. Retry passing
    /// failures only before the first text update. The base turns these updates into the caller's stream: it renumbers the
    /// samples, checks the count, stores the samples in the cache and yields the assembled final update.
    /// </remarks>
    /// <param name="request">The prompt (valid), how many samples, and the first sample's number.</param>
    /// <param name="cancellationToken">Cancels the call; the provider must close its stream.</param>
    protected virtual async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
        LmUncachedRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var predictions = await PredictUncachedAsync(request, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < predictions.Count; i++)
        {
            yield return WholeSample(predictions[i], i, wasCached: false, withPrediction: true);
        }
    }

    /// <summary>A whole sample as one update: its text, tokens and logprobs (where it has them).</summary>
    private static LmStreamingUpdate WholeSample(LmPrediction sample, int index, bool wasCached, bool withPrediction) => new()
    {
        SampleIndex = index,
        Text = sample.CompletionText,
        Tokens = sample.RawCompletionTokens,
        Logprobs = sample.RawCompletionLogprobs,
        WasCached = wasCached,
        Prediction = withPrediction ? sample : null,
    };

    private async IAsyncEnumerable<LmStreamingUpdate> PredictStreamingCoreAsync(
        LmPrompt prompt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The same telemetry and spend as PredictAsync: the call's activity, cache misses, the request's duration, and
        // the fresh and cached samples' tokens and dollars once the final prediction is known.
        using var call = Telemetry.StartCall(prompt, Spend);
        var (key, samples, missing) = ReadCachedSamples(prompt, call);

        for (int s = 0; s < samples.Length; s++)
        {
            if (samples[s] is { HasErrors: false } cached)
            {
                yield return WholeSample(cached, s, wasCached: true, withPrediction: false);
            }
        }

        if (missing > 0)
        {
            call.Sending();
            try
            {
                await WaitForRateLimitAsync(prompt, missing, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (call.Fail(e))
            {
                throw; // never reached: the filter only records the failure
            }

            int[] slots = new int[missing];
            for (int s = 0, j = 0; s < samples.Length; s++)
            {
                if (samples[s] is null)
                {
                    slots[j++] = s;
                }
            }

            var request = new LmUncachedRequest(0, prompt, missing) { CacheKey = key, FirstSample = slots[0] };
            if (Logger.IsEnabled(LogLevel.Trace))
            {
                LmLog.PromptSent(Logger, ModelIdentity, missing, prompt.GetTextAsStringDefaultForm());
            }

            var finished = new LmPrediction?[missing];
            LmPrediction? failedForAll = null;
            bool textGiven = false;
            var updates = PredictUncachedStreamingAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (updates.ConfigureAwait(false))
            {
                while (true)
                {
                    LmStreamingUpdate update;
                    try
                    {
                        if (!await updates.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        update = updates.Current ?? throw new InvalidOperationException($"{GetType().Name} streamed a null update.");
                    }
                    catch (LmProviderException e) when (!textGiven)
                    {
                        // Refused before any text: the same failed prediction PredictAsync returns.
                        LmLog.RequestFailed(Logger, ModelIdentity, e.Error.Kind, e.Error.Message);
                        failedForAll = LmPrediction.FromError(prompt, e.Error);
                        break;
                    }
                    catch (Exception e) when (call.Fail(e))
                    {
                        throw; // never reached: the filter only records the failure
                    }

                    if ((uint)update.SampleIndex >= (uint)missing)
                    {
                        throw new InvalidOperationException(
                            $"{GetType().Name} streamed an update for sample {update.SampleIndex}, but only {missing} were asked for.");
                    }

                    if (update.Prediction is { } done)
                    {
                        if (finished[update.SampleIndex] is not null)
                        {
                            throw new InvalidOperationException($"{GetType().Name} finished sample {update.SampleIndex} twice.");
                        }

                        finished[update.SampleIndex] = done;
                    }

                    if (update.Text.Length > 0 || update.Tokens is { Count: > 0 })
                    {
                        textGiven = true;
                        yield return new LmStreamingUpdate
                        {
                            SampleIndex = slots[update.SampleIndex],
                            Text = update.Text,
                            Tokens = update.Tokens,
                            Logprobs = update.Logprobs,
                        };
                    }
                }
            }

            IReadOnlyList<LmPrediction> predictions;
            if (failedForAll is not null)
            {
                predictions = [failedForAll];
            }
            else if (Array.TrueForAll(finished, p => p is not null))
            {
                predictions = Array.ConvertAll(finished, p => p!);
            }
            else if (finished.Count(p => p is not null) == 1 && finished.First(p => p is not null)!.HasErrors)
            {
                predictions = [finished.First(p => p is not null)!];
            }
            else
            {
                throw new InvalidOperationException(
                    $"{GetType().Name} ended its stream without finishing sample {Array.FindIndex(finished, p => p is null)}.");
            }

            CheckCount(predictions, missing);
            call.Received(predictions);
            var toStore = new List<(CacheKey, int, byte[])>(missing);
            PredictManyRun.FillEmpty(samples, predictions, key, toStore);
            Store(toStore);
        }

        var prediction = call.Complete(PredictManyRun.AssembleSamples(samples, prompt));
        yield return new LmStreamingUpdate { Prediction = prediction, WasCached = missing == 0 };
    }
}
