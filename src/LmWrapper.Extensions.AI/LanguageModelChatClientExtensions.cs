using LmWrapper;
using LmWrapper.Extensions.AI;

namespace Microsoft.Extensions.AI;

/// <summary><c>languageModel.AsChatClient()</c>: any LmWrapper <see cref="LanguageModel"/> as an <see cref="IChatClient"/>.</summary>
public static class LanguageModelChatClientExtensions
{
    /// <summary>
    /// Wraps a model as a Microsoft.Extensions.AI chat client (text in and out; options mapped to prompt fields). See
    /// <see cref="LanguageModelChatClient"/>. Disposing the client does not dispose the model.
    /// </summary>
    /// <param name="model">The model.</param>
    public static LanguageModelChatClient AsChatClient(this LanguageModel model) => new(model);
}
