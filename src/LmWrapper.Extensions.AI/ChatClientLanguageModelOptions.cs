using LmWrapper.Costs;

namespace LmWrapper.Extensions.AI;

/// <summary>
/// Settings for <see cref="ChatClientLanguageModel"/> (<c>chatClient.AsLanguageModel(…)</c>): what the chat client's model
/// is (its id, context window, prices, capabilities) and, from <see cref="LmOptions"/>, the shared model settings
/// (cache, concurrency, rate limits, batch) and logger. Every one has a default.
/// </summary>
public sealed record ChatClientLanguageModelOptions : LmOptions
{
    /// <summary>The model id sent as <c>ChatOptions.ModelId</c> and named in the cache identity; null means the client's <c>ChatClientMetadata.DefaultModelId</c>.</summary>
    public string? ModelId { get; init; }

    /// <summary>The provider's name in <see cref="LanguageModel.ModelIdentity"/>; null means the client's <c>ChatClientMetadata.ProviderName</c>, else "chatclient".</summary>
    public string? ProviderName { get; init; }

    /// <summary>The context window in tokens; null means the wrapped LmWrapper model's (for a client made by <c>AsChatClient</c>), else 128,000.</summary>
    public int? TokenLimit { get; init; }

    /// <summary>The most tokens one completion may generate (for <see cref="LanguageModel.ModelInfo"/>); null means <see cref="TokenLimit"/> / 16.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Whether the model is reported as a chat model; null means the wrapped LmWrapper model's (for a client made by <c>AsChatClient</c>), else true (an <c>IChatClient</c> takes messages).</summary>
    public bool? IsChatModel { get; init; }

    /// <summary>Dollars per million tokens, for <see cref="LanguageModel.EstimateCost"/> and <see cref="LanguageModel.CostOf"/>; null when unknown (costs then throw).</summary>
    public LmTokenPrices? Prices { get; init; }

    /// <summary>
    /// What the client can do beyond text: <see cref="LmCapabilities.Logprobs"/> and <see cref="LmCapabilities.Echo"/>
    /// allow prompts with <see cref="LmPrompt.Logprobs"/> &gt; 1 and <see cref="LmPrompt.Echo"/>, asked for through
    /// <see cref="LmChatPropertyNames"/>; <see cref="LmCapabilities.Vision"/> allows images (sent as <c>DataContent</c> or
    /// <c>UriContent</c>). Null means the wrapped LmWrapper model's (for a client made by
    /// <c>AsChatClient</c>), else none.
    /// </summary>
    public LmCapabilities? Capabilities { get; init; }

    /// <summary>
    /// Counts a prompt's tokens; null means the wrapped LmWrapper model's count (for a client made by <c>AsChatClient</c>),
    /// else an estimate: a quarter of the characters, rounded up, plus 4 per chat turn and 3 to prime the reply (close
    /// for English under GPT-style tokenizers; the rate limiter and <see cref="LanguageModel.EstimateCost"/> use it).
    /// </summary>
    public Func<LmPrompt, int>? TokenCounter { get; init; }
}
