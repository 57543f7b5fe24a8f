using System.Text;
using LmWrapper.Serialization;

namespace LmWrapper.Tests;

/// <summary>The cache's fast payload reader reads exactly what the serializer writes.</summary>
public class PayloadReaderTests
{
    private static readonly LmPrompt Prompt = new("Once upon a") { MaxTokens = 3, Logprobs = 2, Echo = true };

    private static LmPrediction Sample(string text, double firstLogprob) => new()
    {
        CompletionText = text,
        Prompt = Prompt,
        FinishReason = "length",
        CompletionTokens = [" time", ",", " \"quoted\" \u00e9\u4e2d"],
        CompletionTokenOffsets = [0, 5, 6],
        CompletionLogprobs = [firstLogprob, -1.5e-8, -0.0],
        TopTokenLogprobs = [new Dictionary<string, double> { [" time"] = -0.5, [" day"] = double.NegativeInfinity }],
        PromptTokens = ["Once", " upon", " a"],
        PromptLogprobs = [null, -3.0, -0.25],
        Usage = new LmUsage(3, 3, 1) { ReasoningTokens = 2 },
        ReasoningBlocks = [LmReasoningBlock.Thinking("Let me \"think\" \u00e9", "sig+/="), LmReasoningBlock.Redacted("ZW5j")],
        ProviderData = new Dictionary<string, string> { ["system_fingerprint"] = "fp_1", ["batch_id"] = "batch_9" },
    };

    [Fact]
    public void EveryFieldSurvivesTheRoundTrip()
    {
        var original = new LmPrediction
        {
            CompletionText = "a",
            Prompt = Prompt,
            Completions = [Sample("a", double.NaN), Sample("b", -2)],
            Usage = new LmUsage(1, 2),
        };
        foreach (var p in new[] { Sample(" time, there", -0.25), original, LmPrediction.FromError(Prompt, new LmError(LmErrorKind.ContextLength, "too long", 400, "context_length_exceeded")) })
        {
            var payload = PredictionJson.SerializePayload(p);
            Assert.True(PredictionJson.DeserializePayload(payload, Prompt, wasCached: true).WasCached);
            var back = PredictionJson.DeserializePayload(payload, Prompt, wasCached: false);
            Assert.Same(Prompt, back.Prompt);
            Assert.Equal(p.ToJson(), back.ToJson());
        }
    }

    [Fact]
    public void UnknownPropertiesFromNewerVersionsAreSkipped()
    {
        var json = """{"future":{"a":[1,{"b":null}]},"completion_text":"hi","usage":{"input_tokens":1,"output_tokens":2,"new_kind":7},"completion_logprobs":[-1,"-Infinity"]}""";
        var p = PredictionJson.DeserializePayload(Encoding.UTF8.GetBytes(json), Prompt, wasCached: true);
        Assert.Equal("hi", p.CompletionText);
        Assert.Equal(new LmUsage(1, 2), p.Usage);
        Assert.Equal([-1, double.NegativeInfinity], p.CompletionLogprobs);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("{\"completion_text\":\"x\"")]
    [InlineData("{\"completion_logprobs\":[\"lots\"]}")]
    public void MalformedPayloadsAreAFormatException(string json) =>
        Assert.Throws<FormatException>(() => PredictionJson.DeserializePayload(Encoding.UTF8.GetBytes(json), Prompt, wasCached: true));
}
