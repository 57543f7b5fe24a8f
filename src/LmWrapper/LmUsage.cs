namespace LmWrapper;

/// <summary>How many tokens a request consumed, as the provider reported it.</summary>
/// <param name="InputTokens">Tokens in the prompt (including any that were read from the provider's prompt cache).</param>
/// <param name="OutputTokens">Tokens generated.</param>
/// <param name="CachedInputTokens">Prompt tokens the provider served from its own prompt cache (billed at a discount).</param>
public sealed record LmUsage(int InputTokens, int OutputTokens, int CachedInputTokens = 0)
{
    /// <summary>
    /// Of <see cref="OutputTokens"/>, how many the model spent reasoning before it answered (OpenAI's
    /// <c>completion_tokens_details.reasoning_tokens</c>). Already counted in <see cref="OutputTokens"/>, and billed there
    /// (never again on top). 0 when the provider does not report them apart: Claude bills its thinking inside
    /// <c>output_tokens</c> without a separate count.
    /// </summary>
    public int ReasoningTokens { get; init; }

    /// <summary>Input plus output tokens.</summary>
    public int TotalTokens => InputTokens + OutputTokens;

    /// <summary>Adds two usages field by field.</summary>
    /// <param name="a">The first usage.</param>
    /// <param name="b">The second usage.</param>
    public static LmUsage operator +(LmUsage a, LmUsage b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.InputTokens + b.InputTokens, a.OutputTokens + b.OutputTokens, a.CachedInputTokens + b.CachedInputTokens)
        {
            ReasoningTokens = a.ReasoningTokens + b.ReasoningTokens,
        };
    }

    /// <summary>Adds two usages field by field (the named alternative to <c>+</c>).</summary>
    /// <param name="other">The usage to add.</param>
    public LmUsage Add(LmUsage other) => this + other;
}
