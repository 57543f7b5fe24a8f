namespace LmWrapper;

/// <summary>How soon the answers to <see cref="LanguageModel.PredictMany"/> are needed.</summary>
public enum CompletionWindow
{
    /// <summary>As soon as possible: concurrent ordinary requests, within the model's rate limits.</summary>
    Asap,

    /// <summary>
    /// Whenever the provider's batch API delivers them (for OpenAI and Anthropic: within 24 hours, at half the price).
    /// Models without a batch API run the prompts their best way instead.
    /// </summary>
    BatchAny,
}
