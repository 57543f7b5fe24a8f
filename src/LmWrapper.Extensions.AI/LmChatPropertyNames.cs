namespace LmWrapper.Extensions.AI;

/// <summary>
/// The keys LmWrapper reads from <c>ChatOptions.AdditionalProperties</c> (prompt fields <c>ChatOptions</c> has no
/// property for) and writes to <c>ChatResponse.AdditionalProperties</c> (what an <see cref="LmPrediction"/> has beyond
/// text, usage and finish reason), in the snake_case of LmWrapper's JSON. Other keys in the options are ignored.
/// </summary>
public static class LmChatPropertyNames
{
    /// <summary>Options: <see cref="LmPrompt.Logprobs"/> (an integer; 0 for none, k &gt; 1 for the top k alternatives).</summary>
    public const string Logprobs = "logprobs";

    /// <summary>Options: <see cref="LmPrompt.NumCompletions"/> (an integer). The response's message is the first; all are in <see cref="Completions"/>.</summary>
    public const string NumCompletions = "num_completions";

    /// <summary>Options: <see cref="LmPrompt.Echo"/> (a boolean).</summary>
    public const string Echo = "echo";

    /// <summary>Options: <see cref="LmPrompt.Cache"/> (a boolean): use LmWrapper's response cache for this call.</summary>
    public const string Cache = "cache";

    /// <summary>Options: <see cref="LmPrompt.AddBosToken"/> (a boolean, local models).</summary>
    public const string AddBosToken = "add_bos_token";

    /// <summary>Options: <see cref="LmPrompt.AddSpecialTokens"/> (a boolean, local models).</summary>
    public const string AddSpecialTokens = "add_special_tokens";

    /// <summary>
    /// Options: which sample of a prompt this call is (an integer, from 0), set by <c>ChatClientLanguageModel</c> when it
    /// asks for several completions one call at a time, so that a caching client keeps them apart.
    /// </summary>
    public const string Sample = "sample";

    /// <summary>Response: the texts of every completion (a string array), when more than one was asked for.</summary>
    public const string Completions = "completions";

    /// <summary>Response: <see cref="LmPrediction.WasCached"/> (a boolean).</summary>
    public const string Cached = "cached";

    /// <summary>Response: what the call cost in US dollars (<see cref="LanguageModel.CostOf"/>; 0 when cached), where the model's prices are known.</summary>
    public const string Cost = "cost";

    /// <summary>Response: the provider's own finish reason ("end_turn", "length", …), which <c>ChatResponse.FinishReason</c> maps to MEAI's few.</summary>
    public const string FinishReason = "finish_reason";

    /// <summary>Response: <see cref="LmPrediction.CompletionTokens"/> (a string array).</summary>
    public const string CompletionTokens = "completion_tokens";

    /// <summary>Response: <see cref="LmPrediction.CompletionLogprobs"/> (a number array).</summary>
    public const string CompletionLogprobs = "completion_logprobs";

    /// <summary>Response: <see cref="LmPrediction.TopTokenLogprobs"/> (an array of token → logprob objects).</summary>
    public const string TopTokenLogprobs = "top_token_logprobs";

    /// <summary>Response: <see cref="LmPrediction.PromptTokens"/> (a string array, with echo).</summary>
    public const string PromptTokens = "prompt_tokens";

    /// <summary>Response: <see cref="LmPrediction.PromptLogprobs"/> (a number array whose first item may be null, with echo).</summary>
    public const string PromptLogprobs = "prompt_logprobs";
}
