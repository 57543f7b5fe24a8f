namespace LmWrapper;

/// <summary>
/// How hard a reasoning model thinks before it answers (<see cref="LmPrompt.ReasoningEffort"/>; OpenAI's
/// <c>reasoning_effort</c>). Which values a model takes depends on its family: OpenAI's o-series takes
/// <see cref="Low"/>, <see cref="Medium"/> and <see cref="High"/>; GPT-5 adds <see cref="Minimal"/>; gpt-5.1 takes
/// <see cref="None"/>, <see cref="Low"/>, <see cref="Medium"/> and <see cref="High"/>. A local model whose chat template
/// has an <c>enable_thinking</c> switch (Qwen3) thinks for any value but <see cref="None"/>.
/// </summary>
public enum LmReasoningEffort
{
    /// <summary>No reasoning at all (gpt-5.1's default; a local model's <c>enable_thinking=false</c>).</summary>
    None = 0,

    /// <summary>As little reasoning as possible (GPT-5).</summary>
    Minimal = 1,

    /// <summary>Little reasoning: faster and cheaper answers.</summary>
    Low = 2,

    /// <summary>The o-series and GPT-5 default.</summary>
    Medium = 3,

    /// <summary>More reasoning: slower, more reasoning tokens, often better answers.</summary>
    High = 4,

    /// <summary>The most reasoning (OpenAI models after gpt-5.1-codex-max).</summary>
    XHigh = 5,
}
