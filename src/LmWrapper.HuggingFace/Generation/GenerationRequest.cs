using LmWrapper.Internals;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>One prompt's generation, in token ids: what to run and how to sample.</summary>
internal sealed class GenerationRequest
{
    /// <summary>The prompt's ids, any beginning-of-sequence token included.</summary>
    public required int[] PromptIds { get; init; }

    /// <summary>Whether PromptIds[0] is a beginning-of-sequence token (left out of echoed prompt tokens).</summary>
    public bool HasBos { get; init; }

    /// <summary>The most tokens to generate (already capped by the context).</summary>
    public required int MaxNewTokens { get; init; }

    /// <summary>0 for greedy.</summary>
    public double Temperature { get; init; }

    public double TopP { get; init; } = 1;

    /// <summary>0 for no top-k filter.</summary>
    public int TopK { get; init; }

    public double PresencePenalty { get; init; }

    public double FrequencyPenalty { get; init; }

    /// <summary>Seeds the samples' generators; null for fresh randomness.</summary>
    public int? Seed { get; init; }

    public required int NumSamples { get; init; }

    /// <summary>The sample number of the first sample (seeded samples draw from a stream per sample number).</summary>
    public int FirstSample { get; init; }

    /// <summary>Alternatives to report per position (0 or 1: none).</summary>
    public int TopLogprobs { get; init; }

    /// <summary>Compute the prompt tokens' logprobs.</summary>
    public bool Echo { get; init; }

    public IReadOnlyList<string>? Stop { get; init; }

    public ModelInternalsRequest? Internals { get; init; }

    /// <summary>
    /// Called on the generating thread as each token of a sample is taken (not for the end-of-sequence token): the sample's
    /// number within the request, the token's text in context and its logprob. For streaming; null when nobody listens.
    /// </summary>
    public Action<int, string, double>? OnToken { get; init; }

    /// <summary>
    /// Constrained JSON decoding: when set, each sample keeps its own parser state and only tokens that keep its output a
    /// valid prefix of a matching JSON document can be chosen (then end-of-sequence once it is complete); logprobs are
    /// those of the masked distribution. Wiring: for <c>LmPrompt.ResponseFormat</c>, pass
    /// <c>lm.CreateJsonConstraint(format is JSON mode ? null : format's schema JsonElement)</c> (HuggingFaceLm), which
    /// compiles the schema (an <see cref="LmPromptException"/> for unsupported keywords: call it when validating the
    /// prompt, before anything runs) against the model's cached vocabulary trie.
    /// </summary>
    public JsonConstraint? Constraint { get; init; }
}

/// <summary>One generated sample, in ids, before it becomes a prediction.</summary>
internal sealed class GeneratedSample
{
    public required List<int> Tokens { get; init; }

    /// <summary>Each generated token's text, decoded in context (special tokens give "").</summary>
    public required List<string> Pieces { get; init; }

    public required List<double> Logprobs { get; init; }

    public List<(int Id, double Logprob)[]>? Top { get; init; }

    /// <summary>"stop" (EOS or a stop sequence) or "length".</summary>
    public string FinishReason { get; set; } = "length";

    /// <summary>Whether the model produced an end-of-sequence token (not kept in <see cref="Tokens"/>).</summary>
    public bool EndedWithEos { get; set; }

    public LmModelInternals? Internals { get; set; }
}

/// <summary>What one request produced.</summary>
internal sealed class GenerationResult
{
    public required GeneratedSample[] Samples { get; init; }

    /// <summary>With echo: for each prompt id, the logprob given the ids before it (null for the first).</summary>
    public double?[]? PromptLogprobs { get; init; }
}
