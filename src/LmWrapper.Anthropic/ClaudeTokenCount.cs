namespace LmWrapper.Anthropic;

/// <summary>How many input tokens a prompt takes for a Claude model, and whether that number is exact.</summary>
/// <param name="InputTokens">The prompt's tokens (system prompt and messages, with Claude's formatting).</param>
/// <param name="IsEstimate">
/// False when the count-tokens endpoint counted them (exact); true for LmWrapper's offline estimate (about 3.5 characters
/// per token), used when the endpoint could not be reached. Anthropic publishes no tokenizer for current Claude models.
/// </param>
public readonly record struct ClaudeTokenCount(int InputTokens, bool IsEstimate);
