using System.Collections.Concurrent;

namespace LmWrapper.Tests;

/// <summary>
/// The test-only model that proves the base class: deterministic answers ("&lt;text&gt;|s&lt;k&gt;" where k counts the
/// samples made for that prompt text), a log of every uncached call, and hooks for failures and delays.
/// </summary>
internal sealed class CountingLm(LanguageModelOptions options, string name = "counting") : LanguageModel(options)
{
    private readonly ConcurrentDictionary<string, int> _samplesPerText = new();
    private int _inFlight;
    private int _maxInFlight;

    public ConcurrentQueue<(string Text, int NumCompletions)> Calls { get; } = new();

    public int CallCount => Calls.Count;

    public int SamplesMade => _samplesPerText.Values.Sum();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Return a prediction (error or not) instead of the normal answer, or throw, for a prompt text.</summary>
    public Func<LmPrompt, LmPrediction?>? Intercept { get; set; }

    public TimeSpan Delay { get; set; }

    public override string ModelIdentity => "test/" + name;

    public override int TokenLimit => 1600;

    public override bool IsChatModel => false;

    public override int EstimateTokensInPrompt(LmPrompt prompt) => prompt.GetTextAsStringDefaultForm().Length;

    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        if (prompt.Echo)
        {
            throw new LmPromptException("CountingLm cannot echo.", nameof(LmPrompt.Echo));
        }
    }

    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        string text = prompt.GetTextAsStringDefaultForm();
        Calls.Enqueue((text, numCompletions));
        int now = Interlocked.Increment(ref _inFlight);
        int seen;
        while ((seen = Volatile.Read(ref _maxInFlight)) < now && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
        {
        }

        try
        {
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, cancellationToken);
            }

            if (Intercept?.Invoke(prompt) is { } intercepted)
            {
                return [intercepted];
            }

            var list = new LmPrediction[numCompletions];
            for (int i = 0; i < numCompletions; i++)
            {
                int k = _samplesPerText.AddOrUpdate(text, 1, (_, v) => v + 1) - 1;
                list[i] = new LmPrediction
                {
                    CompletionText = $"{text}|s{k}",
                    Prompt = prompt,
                    FinishReason = "stop",
                    CompletionTokens = [text, $"|s{k}"],
                    CompletionTokenOffsets = [0, text.Length],
                    CompletionLogprobs = [-0.5, -0.25 * (k + 1)],
                    Usage = new LmUsage(text.Length, 2),
                };
            }

            return list;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
