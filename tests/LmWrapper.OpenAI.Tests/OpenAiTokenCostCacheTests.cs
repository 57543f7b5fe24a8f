using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Costs;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiTokenCostCacheTests : OpenAiTestBase
{
    public static TheoryData<string, string, int[]> TiktokenCases()
    {
        var data = new TheoryData<string, string, int[]>();
        string path = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers", "tiktoken_cases.jsonl");
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            data.Add(r.GetProperty("encoding").GetString()!, r.GetProperty("text").GetString()!, [.. r.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TiktokenCases))]
    public void EncodersMatchTiktoken(string encoding, string text, int[] ids)
    {
        var tokenizer = OpenAiTokenizers.Get(encoding);
        Assert.Equal(ids, tokenizer.EncodeToIds(text).ToArray());
        Assert.Equal(ids.Length, tokenizer.CountTokens(text));
    }

    [Fact]
    public void FixtureCoversBothEncodings()
    {
        var cases = TiktokenCases();
        Assert.True(cases.Count() >= 40);
        Assert.Contains(cases, c => (string)c[0] == "o200k_base");
        Assert.Contains(cases, c => (string)c[0] == "cl100k_base");
    }

    [Fact]
    public void ChatPromptsCountOpenAisPerMessageOverhead()
    {
        using var lm = Lm(OpenAiModelNames.Gpt35Turbo);
        // 3 to prime the reply + per message: 3 + role + content (+ 1 + name).
        Assert.Equal(3 + 3 + 1 + 2, lm.EstimateTokensInPrompt(new LmPrompt("Hello world")));
        var chat = new LmPrompt([LmChatTurn.System("Hello world"), LmChatTurn.User("Hello world", name: "bob")]);
        Assert.Equal(3 + (3 + 1 + 2) + (3 + 1 + 2 + 1 + lm.CountTokens("bob")), lm.EstimateTokensInPrompt(chat));
        using var instruct = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        Assert.Equal(2, instruct.EstimateTokensInPrompt(new LmPrompt("Hello world")));
        Assert.Equal(instruct.CountTokens(chat.GetTextAsStringDefaultForm()), instruct.EstimateTokensInPrompt(chat));
        using var o200k = Lm(OpenAiModelNames.Gpt4oMini);
        Assert.Equal(OpenAiTokenizers.Get("o200k_base").CountTokens("Grüße aus Köln"), o200k.CountTokens("Grüße aus Köln"));
    }

    [Fact]
    public void CostOfAPromptBeforeItRuns()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = new LmPrompt("Hello world") { MaxTokens = 100, NumCompletions = 2 };
        var estimate = lm.EstimateCost(prompt);
        Assert.Equal(lm.EstimateTokensInPrompt(prompt), estimate.InputTokens);
        Assert.Equal(200, estimate.MaxOutputTokens);
        Assert.Equal(estimate.InputTokens * 0.15m / 1_000_000m, estimate.InputCost);
        Assert.Equal(200 * 0.60m / 1_000_000m, estimate.MaxOutputCost);
        Assert.Equal(estimate.InputCost + estimate.MaxOutputCost, estimate.MaxTotalCost);
        Assert.Equal(estimate.MaxTotalCost / 2, lm.EstimateCost(prompt, CompletionWindow.BatchAny).MaxTotalCost);
    }

    [Fact]
    public async Task CostOfAPredictionFromItsUsage()
    {
        Server.Responder = _ => new Testing.FakeOpenAiReply("a b c d e f g h i j") { CachedPromptTokens = 2 };
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        var p = await lm.PredictAsync(new LmPrompt("Hello world") { MaxTokens = 50, NumCompletions = 2 });
        var u0 = p.Completions[0].Usage!;
        var u1 = p.Completions[1].Usage!;
        Assert.Equal(10, u0.OutputTokens);
        Assert.Equal(10, u1.OutputTokens);
        Assert.Equal(2, u0.CachedInputTokens);
        decimal expected = ((u0.InputTokens - 2) * 2.50m + 2 * 1.25m + 20 * 10.00m) / 1_000_000m;
        Assert.Equal(expected, lm.CostOf(p));
        Assert.Equal(expected / 2, p.Completions.Sum(c => lm.ModelInfo.Prices!.CostOf(c.Usage!, batch: true)));
        Assert.Equal(0m, lm.CostOf(LmPrediction.FromError(p.Prompt, new LmError(LmErrorKind.Server, "x"))));
    }

    [Fact]
    public void PricesWithoutACachedRateBillCachedTokensInFull()
    {
        var prices = new LmTokenPrices(1.50m, 2.00m);
        Assert.Equal((1000 * 1.50m + 500 * 2.00m) / 1_000_000m, prices.CostOf(new LmUsage(1000, 500, 400)));
    }

    [Fact]
    public async Task CachedCallsMakeNoRequestAndKeepEverything()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache: cache);
        var prompt = new LmPrompt("What is 2+2?") { MaxTokens = 10, Logprobs = 3, Temperature = 0 };
        var first = await lm.PredictAsync(prompt);
        Assert.False(first.WasCached);
        Assert.Single(Server.Requests);
        var second = await lm.PredictAsync(prompt);
        Assert.True(second.WasCached);
        Assert.Single(Server.Requests);
        Assert.Equal(first.CompletionText, second.CompletionText);
        Assert.Equal(first.CompletionTokens, second.CompletionTokens);
        Assert.Equal(first.CompletionTokenOffsets, second.CompletionTokenOffsets);
        Assert.Equal(first.CompletionLogprobs, second.CompletionLogprobs);
        Assert.Equal(first.TopTokenLogprobs.Select(d => d.OrderBy(kv => kv.Key)), second.TopTokenLogprobs.Select(d => d.OrderBy(kv => kv.Key)));
        Assert.Equal(first.Usage, second.Usage);
        Assert.Equal(first.FinishReason, second.FinishReason);
        Assert.Equal(first.ProviderData, second.ProviderData);

        await lm.PredictAsync(prompt with { Temperature = 0.5 });
        Assert.Equal(2, Server.Requests.Count);
        await lm.PredictAsync(prompt with { Cache = false });
        Assert.Equal(3, Server.Requests.Count);

        // Samples are cached one by one: asking for 3 after 1 sends n=2.
        await lm.PredictAsync(prompt with { NumCompletions = 3 });
        Assert.Equal(2, LastRequest.Json.GetProperty("n").GetInt32());

        // A different endpoint is a different model identity: nothing is shared.
        using var other = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, Testing.FakeOpenAiServer.DefaultApiKey, options: Options(cache) with { BaseUrl = new Uri(Server.BaseUrl + "/") });
        Assert.Equal(lm.ModelIdentity, other.ModelIdentity); // trailing slash is the same endpoint
        await using var server2 = await Testing.FakeOpenAiServer.StartNewAsync();
        using var elsewhere = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, Testing.FakeOpenAiServer.DefaultApiKey, options: Options(cache) with { BaseUrl = new Uri(server2.BaseUrl) });
        var fromOther = await elsewhere.PredictAsync(prompt);
        Assert.False(fromOther.WasCached);
        Assert.Single(server2.Requests);
    }

    [Fact]
    public async Task PredictManyDeduplicatesAndUsesTheCache()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt35TurboInstruct, cache: cache);
        var prompts = new[] { "What is 1+1?", "What is 2+2?", "What is 1+1?" }.Select(t => new LmPrompt(t) { MaxTokens = 10 }).ToList();
        var results = lm.PredictMany(prompts).ToList();
        Assert.Equal([" 1+1 is equal to 2.", " 2+2 is equal to 4.", " 1+1 is equal to 2."], results.Select(r => r.CompletionText));
        Assert.Equal(2, Server.Requests.Count);
        results = lm.PredictMany(prompts).ToList();
        Assert.All(results, r => Assert.True(r.WasCached));
        Assert.Equal(2, Server.Requests.Count);
    }
}
