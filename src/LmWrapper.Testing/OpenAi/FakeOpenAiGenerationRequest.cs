using System.Text.Json;

namespace LmWrapper.Testing;

/// <summary>What a <see cref="FakeOpenAiServer"/> responder is asked to answer: one choice of one prompt.</summary>
public sealed record FakeOpenAiGenerationRequest
{
    /// <summary>The requested model.</summary>
    public required string Model { get; init; }

    /// <summary>True for <c>/v1/chat/completions</c> (see <see cref="Messages"/>), false for <c>/v1/completions</c> (see <see cref="Prompt"/>).</summary>
    public required bool IsChat { get; init; }

    /// <summary>The prompt of a completions request; null for chat.</summary>
    public string? Prompt { get; init; }

    /// <summary>The messages of a chat request; empty for completions.</summary>
    public IReadOnlyList<FakeOpenAiMessage> Messages { get; init; } = [];

    /// <summary>Which of the <c>n</c> choices this is (0-based).</summary>
    public int ChoiceIndex { get; init; }

    /// <summary>The request's temperature (1 when absent).</summary>
    public double Temperature { get; init; } = 1;

    /// <summary>The request's seed, if any.</summary>
    public long? Seed { get; init; }

    /// <summary>The whole request body, for anything else a responder wants to look at.</summary>
    public JsonElement Body { get; init; }

    /// <summary>The last user message (chat) or the prompt (completions).</summary>
    public string LastUserText =>
        Prompt ?? Messages.LastOrDefault(m => m.Role == "user")?.Content ?? Messages.LastOrDefault()?.Content ?? string.Empty;
}
