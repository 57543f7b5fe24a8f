using LmWrapper.Caching;
using LmWrapper.Costs;

namespace LmWrapper.Cli.Tests;

/// <summary>
/// A model with prices whose every answer reports <see cref="OutputTokensPerAnswer"/> output tokens (whatever MaxTokens
/// says), so that the spend can pass an estimate made from MaxTokens. Fails prompts whose text starts with "fail".
/// </summary>
internal sealed class PricedTestLm : LanguageModel
{
    private int _calls;

    public PricedTestLm(LmCache cache)
        : base(new LanguageModelOptions { Cache = cache, CacheByDefault = true, MaxConcurrency = 1 })
    {
    }

    public const int OutputTokensPerAnswer = 1000;

    /// <summary>$1 per million output tokens: one answer costs $0.001.</summary>
    public static readonly LmTokenPrices Prices = new(0m, 1m);

    public int Calls => Volatile.Read(ref _calls);

    public override string ModelIdentity => "test/priced";

    public override int TokenLimit => 100_000;

    public override bool IsChatModel => false;

    public override LmModelInfo ModelInfo => new(ModelIdentity, TokenLimit, 4096, Prices, LmCapabilities.None);

    public override int EstimateTokensInPrompt(LmPrompt prompt) => 1;

    protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (prompt.Text!.StartsWith("fail", StringComparison.Ordinal))
        {
            throw new LmProviderException(new LmError(LmErrorKind.Server, "the test server failed", 500));
        }

        var answers = Enumerable.Range(0, numCompletions)
            .Select(_ => new LmPrediction { CompletionText = "<" + prompt.Text + ">", Prompt = prompt, Usage = new LmUsage(1, OutputTokensPerAnswer) })
            .ToList();
        return Task.FromResult<IReadOnlyList<LmPrediction>>(answers);
    }
}
