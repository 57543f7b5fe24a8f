using System.Diagnostics;
using LmWrapper.Caching;
using LmWrapper.Costs;
using LmWrapper.Diagnostics;

namespace LmWrapper.Observability.Tests;

public sealed class MockLmTelemetryTests
{
    private static MockLm Mock(TelemetryCollector t, LmCache? cache = null, string? name = null, Func<LmPrompt, string>? answer = null) =>
        new(answer, name: name ?? "mock-" + Guid.NewGuid().ToString("N")[..8], options: new LanguageModelOptions
        {
            Cache = cache,
            CacheByDefault = cache is not null,
            MeterFactory = t.MeterFactory,
        });

    [Fact]
    public async Task A_predict_is_one_client_activity_with_gen_ai_attributes_and_no_prompt_text()
    {
        using var t = new TelemetryCollector();
        using var lm = Mock(t, name: "echo-one");
        var p = await lm.PredictAsync(new LmPrompt("zebra quokka wombat") { MaxTokens = 2, Temperature = 0.5, TopP = 0.9 });

        var a = Assert.Single(t.Activities);
        Assert.Equal("text_completion echo-one", a.DisplayName);
        Assert.Equal(ActivityKind.Client, a.Kind);
        Assert.Equal("mock", a.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("echo-one", a.GetTagItem("gen_ai.request.model"));
        Assert.Equal("text_completion", a.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(2, a.GetTagItem("gen_ai.request.max_tokens"));
        Assert.Equal(0.5, a.GetTagItem("gen_ai.request.temperature"));
        Assert.Equal(0.9, a.GetTagItem("gen_ai.request.top_p"));
        Assert.Equal(new[] { "length" }, (string[])a.GetTagItem("gen_ai.response.finish_reasons")!);
        Assert.Equal((long)p.Usage!.InputTokens, a.GetTagItem("gen_ai.usage.input_tokens"));
        Assert.Equal((long)p.Usage.OutputTokens, a.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.Equal(false, a.GetTagItem("lmwrapper.cached"));
        Assert.Equal(ActivityStatusCode.Unset, a.Status);
        Assert.DoesNotContain(a.TagObjects, tag => tag.Value?.ToString()?.Contains("quokka", StringComparison.Ordinal) == true);
        Assert.Equal(t.TraceId, a.TraceId);
    }

    [Fact]
    public async Task A_predict_records_requests_tokens_and_duration_with_the_conventions_tags()
    {
        using var t = new TelemetryCollector();
        using var lm = Mock(t, name: "echo-two");
        var p = await lm.PredictAsync(new LmPrompt("one two three") { MaxTokens = 10 });

        var request = Assert.Single(t.Of("lmwrapper.requests"));
        Assert.Equal(1, request.Value);
        Assert.Equal("mock", request.Tag("gen_ai.provider.name"));
        Assert.Equal("echo-two", request.Tag("gen_ai.request.model"));
        Assert.Equal("text_completion", request.Tag("gen_ai.operation.name"));
        Assert.Null(request.Tag("error.type"));
        Assert.Equal(p.Usage!.InputTokens, t.Sum("gen_ai.client.token.usage", m => m.Tag("gen_ai.token.type") == "input"));
        Assert.Equal(p.Usage.OutputTokens, t.Sum("gen_ai.client.token.usage", m => m.Tag("gen_ai.token.type") == "output"));
        var duration = Assert.Single(t.Of("gen_ai.client.operation.duration"));
        Assert.True(duration.Value >= 0);
        Assert.Empty(t.Of("lmwrapper.cache.hits")); // this mock uses no cache
    }

    [Fact]
    public async Task A_cached_answer_counts_a_hit_not_a_request_and_its_activity_says_cached()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Mock(t, cache);
        var prompt = new LmPrompt("alpha beta") { MaxTokens = 5, NumCompletions = 2 };
        await lm.PredictAsync(prompt);
        var before = lm.Spend.Snapshot();
        var again = await lm.PredictAsync(prompt);

        Assert.True(again.WasCached);
        Assert.Equal(1, t.Sum("lmwrapper.requests"));
        Assert.Equal(2, t.Sum("lmwrapper.cache.misses"));
        Assert.Equal(2, t.Sum("lmwrapper.cache.hits"));
        Assert.Single(t.Of("gen_ai.client.operation.duration")); // only the call that was sent
        var spent = lm.Spend.Snapshot() - before;
        Assert.Equal(0, spent.Requests);
        Assert.Equal(2, spent.CachedSamples);
        var activities = t.Activities;
        Assert.Equal(2, activities.Count);
        Assert.Equal(1, activities.Count(a => Equals(a.GetTagItem("lmwrapper.cached"), true)));
    }

    [Fact]
    public async Task PredictMany_is_one_run_activity_over_one_client_activity_per_request_and_counts_duplicates_once()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Mock(t, cache);
        await lm.PredictAsync(new LmPrompt("x y") { MaxTokens = 5 });
        var before = lm.Spend.Snapshot();

        var prompts = new[] { "a b", "c d e", "a b", "x y" }.Select(s => new LmPrompt(s) { MaxTokens = 5 }).ToList();
        var results = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync(prompts))
        {
            results.Add(p);
        }

        var spent = lm.Spend.Snapshot() - before;
        Assert.Equal(2, spent.Requests);         // "a b" once, "c d e"
        Assert.Equal(1, spent.CachedSamples);    // "x y"
        Assert.Equal(2 + 3, spent.InputTokens);
        Assert.Equal(2 + 3, spent.OutputTokens);
        Assert.Equal(0m, spent.Cost);            // a mock has no prices
        Assert.Equal(3, t.Sum("lmwrapper.requests"));
        Assert.Equal(1 + 2, t.Sum("lmwrapper.cache.misses"));
        Assert.Equal(1, t.Sum("lmwrapper.cache.hits"));

        var run = Assert.Single(t.Activities, a => a.DisplayName.StartsWith("predict_many ", StringComparison.Ordinal));
        Assert.Equal(ActivityKind.Internal, run.Kind);
        Assert.Equal(4, run.GetTagItem("lmwrapper.prompts"));
        Assert.Equal(2, run.GetTagItem("lmwrapper.requests"));
        Assert.Equal(5L, run.GetTagItem("gen_ai.usage.input_tokens"));
        var requests = t.Activities.Where(a => a.ParentSpanId == run.SpanId).ToList();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, a => Assert.Equal(ActivityKind.Client, a.Kind));
    }

    [Fact]
    public async Task A_failed_request_is_counted_with_its_error_type_and_marks_the_activity()
    {
        using var t = new TelemetryCollector();
        using var lm = new MockLm(
            (p, ct) => throw new LmProviderException(new LmError(LmErrorKind.Server, "the mock is down")),
            options: new LanguageModelOptions { MeterFactory = t.MeterFactory });
        var p = await lm.PredictAsync(new LmPrompt("hello") { MaxTokens = 3 });

        Assert.True(p.HasErrors);
        var request = Assert.Single(t.Of("lmwrapper.requests"));
        Assert.Equal("server", request.Tag("error.type"));
        Assert.Equal("server", Assert.Single(t.Of("gen_ai.client.operation.duration")).Tag("error.type"));
        var a = Assert.Single(t.Activities);
        Assert.Equal(ActivityStatusCode.Error, a.Status);
        Assert.Equal("server", a.GetTagItem("error.type"));
        Assert.Equal(1, lm.Spend.Snapshot().FailedRequests);
    }

    [Fact]
    public async Task An_exception_marks_the_activity_failed_with_the_exception_type()
    {
        using var t = new TelemetryCollector();
        using var lm = new MockLm(
            (p, ct) => throw new InvalidOperationException("a bug"),
            options: new LanguageModelOptions { MeterFactory = t.MeterFactory });
        await Assert.ThrowsAsync<InvalidOperationException>(() => lm.PredictAsync(new LmPrompt("hello") { MaxTokens = 3 }));

        var a = Assert.Single(t.Activities);
        Assert.Equal(ActivityStatusCode.Error, a.Status);
        Assert.Equal(typeof(InvalidOperationException).FullName, a.GetTagItem("error.type"));
        Assert.Equal(typeof(InvalidOperationException).FullName, Assert.Single(t.Of("lmwrapper.requests")).Tag("error.type"));
    }

    [Fact]
    public async Task An_invalid_prompt_is_refused_before_any_activity_or_measurement()
    {
        using var t = new TelemetryCollector();
        using var lm = Mock(t);
        await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("hello") { MaxTokens = -1 }));

        Assert.Empty(t.Activities);
        Assert.Empty(t.Measurements);
        Assert.Equal(LmSpendSnapshot.Empty, lm.Spend.Snapshot());
    }

    [Fact]
    public async Task The_meter_comes_from_the_given_factory_named_LmWrapper_with_the_assembly_version()
    {
        using var t = new TelemetryCollector();
        using var lm = Mock(t);
        await lm.PredictAsync(new LmPrompt("hi there") { MaxTokens = 2 });

        var meter = Assert.Single(t.MeterFactory.Meters);
        Assert.Equal("LmWrapper", meter.Name);
        Assert.Equal(LmTelemetry.MeterName, meter.Name);
        Assert.Equal(typeof(LanguageModel).Assembly.GetName().Version!.ToString(), meter.Version);
        Assert.NotEmpty(t.Measurements);
    }

    [Fact]
    public async Task Without_a_factory_the_process_wide_meter_records()
    {
        string name = "shared-" + Guid.NewGuid().ToString("N")[..8];
        var seen = new System.Collections.Concurrent.ConcurrentBag<double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "LmWrapper" && i.Meter.Scope is null && i.Name == "lmwrapper.requests")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "gen_ai.request.model" && Equals(tag.Value, name))
                {
                    seen.Add(v);
                }
            }
        });
        listener.Start();
        using var lm = new MockLm(name: name);
        await lm.PredictAsync(new LmPrompt("hi there") { MaxTokens = 2 });
        await lm.PredictAsync(new LmPrompt("bye now") { MaxTokens = 2 });

        Assert.Equal(2, seen.Sum());
    }

    [Fact]
    public async Task Every_model_adds_to_the_process_total()
    {
        var before = LmSpend.Total.Snapshot();
        using var lm = new MockLm();
        await lm.PredictAsync(new LmPrompt("one two three") { MaxTokens = 10 });
        var mine = lm.Spend.Snapshot();
        var total = LmSpend.Total.Snapshot() - before;

        Assert.Equal(1, mine.Requests);
        Assert.Equal(3, mine.InputTokens);
        Assert.True(total.Requests >= mine.Requests); // other tests add to it at the same time
        Assert.True(total.InputTokens >= mine.InputTokens);
    }
}
