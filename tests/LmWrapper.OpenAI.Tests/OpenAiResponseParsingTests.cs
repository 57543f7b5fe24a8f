using System.Text;
using System.Text.Json;

namespace LmWrapper.OpenAI.Tests;

/// <summary>Response shapes as the published API reference shows them, beyond what the fake server produces.</summary>
public sealed class OpenAiResponseParsingTests
{
    [Fact]
    public void ParsesThePublishedLogprobsExampleAndSkipsUnknownFields()
    {
        const string Json = """
        {
          "id": "chatcmpl-123", "object": "chat.completion", "created": 1702685778, "model": "gpt-4o-mini-2024-07-18",
          "future_field": {"nested": [1, 2, {"x": null}]},
          "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How", "refusal": null, "annotations": [], "audio": null},
            "logprobs": {
              "content": [
                {"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111],
                 "top_logprobs": [{"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111]},
                                  {"token": "Hi", "logprob": -1.3190403, "bytes": [72, 105]}]},
                {"token": "!", "logprob": -0.02380986, "bytes": [33],
                 "top_logprobs": [{"token": "!", "logprob": -0.02380986, "bytes": [33]}, {"token": " there", "logprob": -3.787621, "bytes": [32, 116, 104, 101, 114, 101]}]},
                {"token": " How", "logprob": -0.000054669687, "bytes": [32, 72, 111, 119],
                 "top_logprobs": [{"token": " How", "logprob": -0.000054669687, "bytes": [32, 72, 111, 119]}, {"token": "<|end|>", "logprob": -10.953937, "bytes": null}]}
              ],
              "refusal": null
            },
            "finish_reason": "length"
          }],
          "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
          "service_tier": "default", "system_fingerprint": null
        }
        """;
        var prompt = new LmPrompt("hi") { Logprobs = 2 };
        var p = Assert.Single(OpenAiChatResponseParser.Parse(Encoding.UTF8.GetBytes(Json), prompt, 1));
        Assert.Equal("Hello! How", p.CompletionText);
        Assert.Equal(["Hello", "!", " How"], p.CompletionTokens);
        Assert.Equal([0, 5, 6], p.CompletionTokenOffsets);
        Assert.Equal([-0.31725305, -0.02380986, -0.000054669687], p.CompletionLogprobs);
        Assert.Equal(-1.3190403, p.TopTokenLogprobs[0]["Hi"]);
        Assert.Equal(-10.953937, p.TopTokenLogprobs[2]["<|end|>"]);
        Assert.Equal("length", p.FinishReason);
        Assert.Equal(new LmUsage(9, 3, 0), p.Usage);
        Assert.Equal("gpt-4o-mini-2024-07-18", p.ProviderData!["model"]);
        Assert.False(p.ProviderData.ContainsKey("system_fingerprint"));
        Assert.False(p.HasErrors);
    }

    [Fact]
    public void OffsetsFollowUtf8BytesWhenATokenSplitsACharacter()
    {
        // "世界" where the API splits 世 (e4 b8 96) across two byte-level tokens.
        const string Json = """
        {"choices": [{"index": 0, "message": {"content": "世界"}, "finish_reason": "stop", "logprobs": {"content": [
          {"token": "bytes:\\xe4\\xb8", "logprob": -1.0, "bytes": [228, 184], "top_logprobs": []},
          {"token": "\\x96", "logprob": -0.5, "bytes": [150], "top_logprobs": []},
          {"token": "界", "logprob": -0.25, "bytes": [231, 149, 140], "top_logprobs": []}]}}]}
        """;
        var p = Assert.Single(OpenAiChatResponseParser.Parse(Encoding.UTF8.GetBytes(Json), new LmPrompt("x"), 1));
        Assert.Equal([0, 0, 1], p.CompletionTokenOffsets);
        Assert.Null(p.Usage);
        Assert.Equal(3, p.TopTokenLogprobs.Count); // empty alternatives, as the server sent them
    }

    [Fact]
    public void ChoicesAreOrderedByIndexAndRefusalsReported()
    {
        const string Json = """
        {"id": "x", "choices": [
          {"index": 1, "message": {"content": null, "refusal": "I can't help with that."}, "logprobs": null, "finish_reason": "stop"},
          {"index": 0, "message": {"content": "Sure."}, "logprobs": null, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 10, "completion_tokens": 7}}
        """;
        var ps = OpenAiChatResponseParser.Parse(Encoding.UTF8.GetBytes(Json), new LmPrompt("x") { Logprobs = 0 }, 2);
        Assert.Equal("Sure.", ps[0].CompletionText);
        Assert.False(ps[0].HasErrors);
        Assert.True(ps[1].HasErrors);
        Assert.Equal("I can't help with that.", ps[1].ProviderData!["refusal"]);
        Assert.Equal(new LmUsage(10, 4, 0), ps[0].Usage); // output split evenly, remainder on the first
        Assert.Equal(new LmUsage(0, 3, 0), ps[1].Usage);
    }

    [Theory]
    [InlineData("""{"choices": [{"index": 0, "message": {"content": "a"}}]}""", 2)]
    [InlineData("""{"choices": "nope"}""", 1)]
    [InlineData("""[1, 2]""", 1)]
    [InlineData("""{"choices": [{"index": 0, "message": {"content": "a"}""", 1)]
    public void MalformedOrShortResponsesThrowJsonException(string json, int n)
    {
        Assert.ThrowsAny<JsonException>(() => OpenAiChatResponseParser.Parse(Encoding.UTF8.GetBytes(json), new LmPrompt("x"), n));
    }
}
