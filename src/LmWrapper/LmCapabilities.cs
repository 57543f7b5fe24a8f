namespace LmWrapper;

/// <summary>What a model can do beyond plain text completion; a prompt that needs a missing one is an <see cref="LmPromptException"/>.</summary>
[Flags]
public enum LmCapabilities
{
    /// <summary>Nothing beyond completing text.</summary>
    None = 0,

    /// <summary>Takes chat dialogs natively (system, user and assistant turns).</summary>
    Chat = 1,

    /// <summary>Returns the logprobs of the tokens it generates (and alternatives, up to its limit).</summary>
    Logprobs = 2,

    /// <summary>Can echo the prompt with its logprobs (<see cref="LmPrompt.Echo"/>).</summary>
    Echo = 4,

    /// <summary>Continues a last assistant turn (a prefill) rather than answering after it.</summary>
    Prefill = 8,

    /// <summary>Has a batch API (<see cref="CompletionWindow.BatchAny"/> at a discount) or batched local inference.</summary>
    Batch = 16,

    /// <summary>Returns hidden states and attention weights (<see cref="LmPrompt.Internals"/>).</summary>
    Internals = 32,

    /// <summary>Takes <see cref="LmPrompt.ReasoningEffort"/> (OpenAI reasoning models; local models whose chat template has an <c>enable_thinking</c> switch).</summary>
    ReasoningEffort = 1 << 10,

    /// <summary>Takes <see cref="LmPrompt.ThinkingBudgetTokens"/> (Claude's extended thinking) and returns its thinking blocks.</summary>
    ThinkingBudget = 1 << 11,

    /// <summary>Takes images in user turns (<see cref="LmChatTurn.Parts"/>, <see cref="LmImage"/>).</summary>
    Vision = 1 << 12,
    /// <summary>Takes <see cref="LmPrompt.Tools"/> and <see cref="LmPrompt.ToolChoice"/>, tool calls and tool results in the dialog, and returns <see cref="LmPrediction.ToolCalls"/>.</summary>
    Tools = 1 << 13,

    /// <summary>Takes <see cref="LmPrompt.ResponseFormat"/> (a JSON object or a JSON Schema answer).</summary>
    StructuredOutput = 1 << 14,
}
