namespace LmWrapper;

/// <summary>
/// One block of a model's reasoning as the provider returned it: Claude's <c>thinking</c> block (its text and the
/// opaque <c>signature</c> that lets it be sent back) or its <c>redacted_thinking</c> block (encrypted, only
/// <see cref="RedactedData"/>). Kept on <see cref="LmPrediction.ReasoningBlocks"/> and on the assistant turn of a reply
/// (<see cref="LmChatTurn.ReasoningBlocks"/>), which sends them back unchanged, as Claude requires.
/// </summary>
/// <param name="Text">The reasoning text of a thinking block; null for a redacted block.</param>
/// <param name="Signature">The provider's signature of <paramref name="Text"/> (never change either); null when the provider gives none.</param>
/// <param name="RedactedData">The encrypted content of a redacted block; null for a thinking block.</param>
public sealed record LmReasoningBlock(string? Text, string? Signature = null, string? RedactedData = null)
{
    /// <summary>Whether this is a redacted (encrypted) block, whose text is not readable.</summary>
    public bool IsRedacted => RedactedData is not null;

    /// <summary>A thinking block: readable reasoning and its signature.</summary>
    /// <param name="text">The reasoning text.</param>
    /// <param name="signature">The provider's signature, or null.</param>
    public static LmReasoningBlock Thinking(string text, string? signature = null) => new(text, signature);

    /// <summary>A redacted thinking block.</summary>
    /// <param name="data">The encrypted content.</param>
    public static LmReasoningBlock Redacted(string data) => new(null, null, data);
}
