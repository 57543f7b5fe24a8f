namespace LmWrapper.Testing;

/// <summary>
/// What a <see cref="FakeOpenAiServer"/> responder wants the model to say for one choice. The server then applies
/// the request's stop sequences and token limit, splits the text into tokens and invents their logprobs.
/// </summary>
/// <param name="Text">The full text the model "would" generate before any stop sequence or token limit.</param>
public sealed record FakeOpenAiReply(string Text)
{
    /// <summary>A refusal message (chat only): the choice then has <c>content: null</c> and this as <c>message.refusal</c>.</summary>
    public string? Refusal { get; init; }

    /// <summary>
    /// Reasoning text to return as <c>message.reasoning_content</c>, as OpenAI-compatible servers that expose their
    /// reasoning (vLLM, DeepSeek) do; OpenAI's own API never returns it. Null (the default) leaves the field out.
    /// </summary>
    public string? ReasoningContent { get; init; }

    /// <summary>
    /// Tool calls to answer with (the request must have those tools): the choice then has <c>content: null</c>, these as
    /// <c>message.tool_calls</c> (ids made by the server) and <c>finish_reason</c> "tool_calls". Null (the default) answers
    /// <see cref="Text"/>. The server's own rule (a forced choice, or "call &lt;name&gt;") is applied before the responder runs.
    /// </summary>
    public IReadOnlyList<FakeToolCall>? ToolCalls { get; init; }

    /// <summary>A finish reason to report instead of the computed one (for example "content_filter").</summary>
    public string? FinishReason { get; init; }

    /// <summary>How many prompt tokens to report as served from OpenAI's prompt cache (<c>usage.prompt_tokens_details.cached_tokens</c>).</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>Makes a plain reply from text.</summary>
    /// <param name="text">The text.</param>
    public static implicit operator FakeOpenAiReply(string text) => new(text);

    /// <summary>Makes a plain reply from text (the named alternative to the implicit conversion).</summary>
    /// <param name="text">The text.</param>
    public static FakeOpenAiReply FromString(string text) => new(text);
}
