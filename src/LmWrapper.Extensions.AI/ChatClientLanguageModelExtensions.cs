using LmWrapper;
using LmWrapper.Extensions.AI;

namespace Microsoft.Extensions.AI;

/// <summary><c>chatClient.AsLanguageModel(…)</c>: any <see cref="IChatClient"/> as an LmWrapper <see cref="LanguageModel"/>.</summary>
public static class ChatClientLanguageModelExtensions
{
    /// <summary>
    /// Wraps a chat client as a <see cref="LanguageModel"/> with LmWrapper's cache, de-duplication, <c>PredictMany</c>
    /// concurrency, rate limits and cost accounting. See <see cref="ChatClientLanguageModel"/>.
    /// </summary>
    /// <param name="chatClient">The client (or a pipeline of MEAI middleware).</param>
    /// <param name="options">The model id, context window, prices, capabilities and shared model settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">No model id is known (set <see cref="ChatClientLanguageModelOptions.ModelId"/>).</exception>
    public static ChatClientLanguageModel AsLanguageModel(this IChatClient chatClient, ChatClientLanguageModelOptions? options = null) =>
        new(chatClient, options);
}
