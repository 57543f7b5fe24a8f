namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// LmWrapper's offline guess at Claude's token count: Anthropic publishes no tokenizer for current models, so this
/// counts about 3.5 characters per token plus a few tokens of formatting per message. Always labelled an estimate.
/// </summary>
internal static class TokenEstimator
{
    private const double CharsPerToken = 3.5;
    private const int PerMessageOverhead = 4;
    private const int PerRequestOverhead = 3;

    public static int Estimate(string? system, IReadOnlyList<(string Role, string Text)> messages)
    {
        double tokens = PerRequestOverhead;
        if (system is not null)
        {
            tokens += PerMessageOverhead + Math.Ceiling(system.Length / CharsPerToken);
        }

        foreach (var (_, text) in messages)
        {
            tokens += PerMessageOverhead + Math.Ceiling(text.Length / CharsPerToken);
        }

        return (int)Math.Min(int.MaxValue, tokens);
    }
}
