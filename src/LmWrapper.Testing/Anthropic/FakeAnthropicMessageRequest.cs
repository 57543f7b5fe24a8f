using System.Text.Json.Nodes;

namespace LmWrapper.Testing.Anthropic;

/// <summary>
/// A valid Messages API request, as <see cref="FakeAnthropicServer.Responder"/> sees it (after the server has checked
/// it like the real API would). Consecutive messages with the same role are already combined into one, as the real
/// API does.
/// </summary>
public sealed record FakeAnthropicMessageRequest
{
    /// <summary>The <c>model</c> field.</summary>
    public required string Model { get; init; }

    /// <summary>The <c>system</c> field's text (a string, or its text blocks joined), or null.</summary>
    public string? System { get; init; }

    /// <summary>The <c>messages</c>, in order.</summary>
    public required IReadOnlyList<FakeAnthropicMessage> Messages { get; init; }

    /// <summary>The images of every message, in order, as the fake checked and counted them (width x height / 750 tokens each); empty when none.</summary>
    public IReadOnlyList<FakeImage> Images { get; init; } = [];

    /// <summary>The <c>max_tokens</c> field (0 for a count-tokens request, which has none).</summary>
    public int MaxTokens { get; init; }

    /// <summary>The <c>temperature</c> field, or null when absent.</summary>
    public double? Temperature { get; init; }

    /// <summary>The <c>top_p</c> field, or null when absent.</summary>
    public double? TopP { get; init; }

    /// <summary>The <c>top_k</c> field, or null when absent.</summary>
    public int? TopK { get; init; }

    /// <summary>The <c>stop_sequences</c> field (empty when absent).</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>The <c>thinking.budget_tokens</c> of a request with extended thinking enabled, or null when thinking is off.</summary>
    public int? ThinkingBudgetTokens { get; init; }

    /// <summary>How many thinking and redacted-thinking blocks the request's messages sent back (each checked against its signature).</summary>
    public int ThinkingBlocksSentBack { get; init; }

    /// <summary>The whole request body (a batch request's <c>params</c>), for anything else a responder wants to look at.</summary>
    public required JsonObject Body { get; init; }

    /// <summary>The batch request's <c>custom_id</c>, or null for a direct request.</summary>
    public string? CustomId { get; init; }

    /// <summary>The request's tools (name and input schema), checked.</summary>
    internal IReadOnlyList<(string Name, System.Text.Json.JsonElement Schema)> ToolSchemas { get; init; } = [];

    /// <summary>The request's <c>tool_choice.type</c> ("auto" when absent).</summary>
    internal string ToolChoice { get; init; } = "auto";

    /// <summary>The tool a <c>tool_choice</c> of type "tool" names.</summary>
    internal string? ToolChoiceName { get; init; }
}
