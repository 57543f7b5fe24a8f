using System.Collections.Concurrent;
using LmWrapper.Caching;
using LmWrapper.Extensions.AI;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.Tests;

public sealed class LanguageModelChatClientTests
{
    private readonly ConcurrentQueue<LmPrompt> _seen = new();

    private MockLm Mock(Func<LmPrompt, string>? answer = null, LanguageModelOptions? options = null) =>
        new(p =>
        {
            _seen.Enqueue(p);
            return answer?.Invoke(p) ?? "the answer is four";
        }, name: "adapter", options: options, isChatModel: true);

    [Fact]
    public void MessagesBecomeTurnsWithLeadingSystemMessagesAndInstructionsJoined()
    {
        using var lm = Mock();
        var client = lm.AsChatClient();
        var prompt = client.ToPrompt(
            [
                new ChatMessage(ChatRole.System, "Be brief."),
                new ChatMessage(ChatRole.System, "Answer in English."),
                new ChatMessage(ChatRole.User, "What is 2+2?") { AuthorName = "ann" },
                new ChatMessage(ChatRole.Assistant, "4"),
                new ChatMessage(ChatRole.User, "And 3+3?"),
            ],
            new ChatOptions { Instructions = "You are a calculator." });

        Assert.Equal(
            [
                LmChatTurn.System("You are a calculator.\n\nBe brief.\n\nAnswer in English."),
                LmChatTurn.User("What is 2+2?", "ann"),
                LmChatTurn.Assistant("4"),
                LmChatTurn.User("And 3+3?"),
            ],
            prompt.Chat!);
    }

    [Fact]
    public void ACompletionModelGetsALoneUserMessageAsATextPromptAndAnythingMoreAsADialog()
    {
        using var completion = new MockLm(name: "completion", isChatModel: false);
        var client = completion.AsChatClient();
        Assert.Equal("Once upon a time", client.ToPrompt([new ChatMessage(ChatRole.User, "Once upon a time")]).Text);
        Assert.True(client.ToPrompt([new ChatMessage(ChatRole.System, "Be kind."), new ChatMessage(ChatRole.User, "Once")]).IsChat);
        using var chat = Mock();
        Assert.True(chat.AsChatClient().ToPrompt([new ChatMessage(ChatRole.User, "Once upon a time")]).IsChat);
    }

    [Fact]
    public void OptionsBecomePromptFields()
    {
        using var lm = Mock();
        var prompt = lm.AsChatClient().ToPrompt(
            [new ChatMessage(ChatRole.User, "hi")],
            new ChatOptions
            {
                MaxOutputTokens = 12,
                Temperature = 0.7f,
                TopP = 0.9f,
                FrequencyPenalty = 0.5f,
                PresencePenalty = -0.25f,
                StopSequences = ["\n", "END"],
                Seed = 42,
                ModelId = "mock/adapter",
                AdditionalProperties = new AdditionalPropertiesDictionary
                {
                    [LmChatPropertyNames.Logprobs] = 3,
                    [LmChatPropertyNames.NumCompletions] = 2L,
                    [LmChatPropertyNames.Echo] = true,
                    [LmChatPropertyNames.Cache] = "true",
                    ["someone_elses_key"] = new object(),
                },
            });

        Assert.Equal(12, prompt.MaxTokens);
        Assert.Equal(0.7, prompt.Temperature);   // exactly, not 0.699999988 from the float
        Assert.Equal(0.9, prompt.TopP);
        Assert.Equal(0.5, prompt.FrequencyPenalty);
        Assert.Equal(-0.25, prompt.PresencePenalty);
        Assert.Equal(["\n", "END"], prompt.Stop!);
        Assert.Equal(42, prompt.Seed);
        Assert.Equal(3, prompt.Logprobs);
        Assert.Equal(2, prompt.NumCompletions);
        Assert.True(prompt.Echo);
        Assert.True(prompt.Cache);
    }

    [Fact]
    public async Task TheResponseCarriesTextUsageFinishReasonModelTokensAndCompletions()
    {
        using var lm = Mock(_ => "one two three four five");
        var client = lm.AsChatClient();
        var response = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "count to five")],
            new ChatOptions { MaxOutputTokens = 3, AdditionalProperties = new() { [LmChatPropertyNames.NumCompletions] = 2 } });

        Assert.Equal("one two three", response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("length", response.AdditionalProperties![LmChatPropertyNames.FinishReason]);
        Assert.Equal("mock/adapter", response.ModelId);
        var prediction = Assert.IsType<LmPrediction>(response.RawRepresentation);
        Assert.Equal(prediction.Completions.Sum(c => c.Usage!.InputTokens), response.Usage!.InputTokenCount);
        Assert.Equal(6, response.Usage.OutputTokenCount);          // 3 tokens × 2 completions
        Assert.Equal(response.Usage.InputTokenCount + 6, response.Usage.TotalTokenCount);
        Assert.Equal(["one", " two", " three"], (string[])response.AdditionalProperties[LmChatPropertyNames.CompletionTokens]!);
        Assert.Equal(2, ((string[])response.AdditionalProperties[LmChatPropertyNames.Completions]!).Length);
        Assert.Equal(false, response.AdditionalProperties[LmChatPropertyNames.Cached]);
        Assert.False(response.AdditionalProperties.ContainsKey(LmChatPropertyNames.Cost)); // a mock has no prices
        Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
    }

    [Fact]
    public async Task TheModelsCacheAnswersTheSecondCallAndSaysSo()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Mock(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var client = lm.AsChatClient();
        var first = await client.GetResponseAsync("What is 2+2?");
        var second = await client.GetResponseAsync("What is 2+2?");
        Assert.Equal(first.Text, second.Text);
        Assert.Equal(false, first.AdditionalProperties![LmChatPropertyNames.Cached]);
        Assert.Equal(true, second.AdditionalProperties![LmChatPropertyNames.Cached]);
        Assert.Equal(1, lm.CallCount);
    }

    [Fact]
    public async Task StreamingYieldsTheTextAsItComesThenTheUsage()
    {
        using var lm = Mock(_ => "a streamed answer");
        var client = lm.AsChatClient();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("hello"))
        {
            updates.Add(update);
        }

        // MockLm streams word by word: three text updates, then the last one with the usage and finish reason.
        Assert.Equal(["a", " streamed", " answer"], updates.Where(u => u.Text.Length > 0).Select(u => u.Text));
        Assert.Null(updates[0].FinishReason);
        Assert.Contains(updates[^1].Contents, c => c is UsageContent);
        var response = updates.ToChatResponse();
        Assert.Equal("a streamed answer", response.Text);
        Assert.Equal((await client.GetResponseAsync("hello")).Text, response.Text);
        Assert.NotNull(response.Usage);
        Assert.Equal(3, response.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public void GetServiceGivesTheMetadataTheModelAndTheClient()
    {
        using var lm = Mock();
        IChatClient client = lm.AsChatClient();
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("mock", metadata!.ProviderName);
        Assert.Equal("mock/adapter", metadata.DefaultModelId);
        Assert.Same(lm, client.GetService<LanguageModel>());
        Assert.Same(lm, client.GetService<MockLm>());
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Null(client.GetService<LanguageModel>("some key"));
        Assert.Null(client.GetService<string>());
    }

    public static TheoryData<string> UnsupportedCases => ["audio", "function call from the user", "hosted tool", "topk", "conversation", "role"];

    [Theory]
    [MemberData(nameof(UnsupportedCases))]
    public async Task UnsupportedContentIsANotSupportedExceptionNamingItBeforeAnythingRuns(string what)
    {
        using var lm = Mock();
        var client = lm.AsChatClient();
        List<ChatMessage> messages = [new ChatMessage(ChatRole.User, "hi")];
        var options = new ChatOptions();
        string expected;
        switch (what)
        {
            case "audio":
                messages = [new ChatMessage(ChatRole.User, [new TextContent("what is this?"), new DataContent(new byte[] { 1, 2, 3 }, "audio/wav")])];
                expected = "audio/wav";
                break;
            case "function call from the user":
                messages.Add(new ChatMessage(ChatRole.User, [new FunctionCallContent("c1", "get_weather")]));
                expected = "function calls";
                break;
            case "hosted tool":
                options.Tools = [new HostedWebSearchTool()];
                expected = nameof(HostedWebSearchTool);
                break;
            case "topk":
                options.TopK = 5;
                expected = "TopK";
                break;
            case "conversation":
                options.ConversationId = "conv-1";
                expected = "ConversationId";
                break;
            default:
                messages = [new ChatMessage(new ChatRole("narrator"), "Once")];
                expected = "narrator";
                break;
        }

        var e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(messages, options));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => client.GetStreamingResponseAsync(messages, options));
        Assert.Equal(0, lm.CallCount);
    }

    [Fact]
    public async Task AnotherModelIdOrABadPropertyIsAnArgumentException()
    {
        using var lm = Mock();
        var client = lm.AsChatClient();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync("hi", new ChatOptions { ModelId = "gpt-4o" }));
        Assert.Contains("gpt-4o", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync("hi", new ChatOptions { AdditionalProperties = new() { [LmChatPropertyNames.Logprobs] = "many" } }));
        Assert.Contains("logprobs", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, lm.CallCount);
    }

    [Fact]
    public async Task AnInvalidPromptIsAnLmPromptExceptionAndAFailedPredictionIsThrown()
    {
        using var lm = Mock();
        var client = lm.AsChatClient();
        var bad = await Assert.ThrowsAsync<LmPromptException>(() => client.GetResponseAsync("hi", new ChatOptions { Temperature = 3 }));
        Assert.Contains("Temperature", bad.Message, StringComparison.Ordinal);

        using var failing = new MockLm((Func<LmPrompt, string>)(_ => throw new LmProviderException(new LmError(LmErrorKind.Server, "the server fell over", 503))), name: "failing");
        var e = await Assert.ThrowsAsync<LmProviderException>(() => failing.AsChatClient().GetResponseAsync("hi"));
        Assert.Equal(LmErrorKind.Server, e.Error.Kind);
        Assert.Equal(503, e.Error.StatusCode);
    }

    [Theory]
    [InlineData("stop", "stop")]
    [InlineData("end_turn", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("content_filter", "content_filter")]
    [InlineData("tool_use", "tool_calls")]
    [InlineData("something_new", "something_new")]
    public void FinishReasonsMapToMeaisNames(string reason, string expected) =>
        Assert.Equal(expected, LanguageModelChatClient.MapFinishReason(reason)!.Value.Value);
}
