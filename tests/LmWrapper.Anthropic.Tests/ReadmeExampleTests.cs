using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The Python lmwrapper README's Claude example, in C#, against the fake server.</summary>
public sealed class ReadmeExampleTests : ClaudeTestBase
{
    [Fact]
    public void ThePythonReadmesClaudeExample()
    {
        // Python:
        //   lm = get_claude_lm(ClaudeModelNames.claude_3_5_haiku)
        //   prediction = lm.predict("Define 'anthropology' in one short sentence")
        //   print(prediction.completion_text)  # Anthropology is the scientific study of human cultures, ...
        Server.Responder = _ => new FakeAnthropicReply(
            "Anthropology is the scientific study of human cultures, societies, behaviors, and biological evolution.");
        var env = new Dictionary<string, string> { ["ANTHROPIC_API_KEY"] = FakeAnthropicServer.DefaultApiKey };
        var options = Options() with { GetEnvironmentVariable = name => env.GetValueOrDefault(name) };

        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, options: options);
        var prediction = lm.Predict("Define 'anthropology' in one short sentence");

        Assert.StartsWith("Anthropology is the scientific study of human cultures", prediction.CompletionText, StringComparison.Ordinal);
        Assert.Equal("end_turn", prediction.FinishReason);
        var body = LastBody;
        Assert.Equal("claude-3-5-haiku-20241022", body["model"]!.GetValue<string>());
        Assert.Equal("Define 'anthropology' in one short sentence", body["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal(100, body["max_tokens"]!.GetValue<int>());
    }
}
