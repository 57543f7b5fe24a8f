using System.Text.Json;
using LmWrapper.HuggingFace.Generation;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Tests.Inference;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.HuggingFace.Tests.JsonDecoding;

/// <summary>
/// Random-weights models (GPT-2's byte-level BPE and Llama-2's SentencePiece byte-fallback tokenizers) generating under
/// JSON constraints: whatever the weights, every output parses and matches its schema (checked independently), greedy
/// and sampled, one sample or several, alone, batched and streamed.
/// </summary>
public sealed class ConstrainedGenerationTests
{
    public static readonly TheoryData<string, string> Cases = Build();

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyAndSampledOutputsMatchTheSchema(string model, string schema)
    {
        using var lm = Load(model);
        var constraint = Constraint(lm, schema);
        lm.ConstraintSelector = _ => constraint;
        var greedy = lm.Predict(new LmPrompt("Answer in JSON:") { MaxTokens = 140, Temperature = 0 });
        Check(schema, greedy);
        var sampled = lm.Predict(new LmPrompt("Answer in JSON:") { MaxTokens = 140, Temperature = 1.0, Seed = 3, NumCompletions = 2 });
        Assert.Equal(2, sampled.Completions.Count);
        foreach (var c in sampled.Completions)
        {
            Check(schema, c);
        }

        // Seeded samples are reproducible under the constraint too.
        var again = lm.Predict(new LmPrompt("Answer in JSON:") { MaxTokens = 140, Temperature = 1.0, Seed = 3, NumCompletions = 2 });
        Assert.Equal(sampled.Completions.Select(c => c.CompletionText), again.Completions.Select(c => c.CompletionText));
    }

    [Theory]
    [InlineData("gpt2", typeof(ExporterSamples.Order))]
    [InlineData("llama", typeof(ExporterSamples.Order))]
    [InlineData("gpt2", typeof(ExporterSamples.Appointment))]
    [InlineData("llama", typeof(ExporterSamples.Appointment))]
    public void ForTypeSchemasGiveOutputsThatDeserializeIntoTheType(string model, Type type)
    {
        // As PredictAsync<T> will use it: the schema LmResponseFormat.ForType makes, and the same serializer options.
        using var lm = Load(model);
        string schema = ExporterSamples.ForTypeSchema(type);
        var constraint = Constraint(lm, schema);
        lm.ConstraintSelector = _ => constraint;
        var p = lm.Predict(new LmPrompt("JSON:") { MaxTokens = 160, Temperature = 0.7, Seed = 5 });
        Check(schema, p);
        Assert.NotNull(JsonSerializer.Deserialize(p.CompletionText, type, ExporterSamples.WebOptions));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void BatchedPredictManyGivesEachPromptWhatItGetsAlone(string model)
    {
        using var lm = Load(model);
        var schemas = new[] { JsonMatcherTests.PersonSchema, JsonMatcherTests.TreeSchema, JsonMatcherTests.ChoiceSchema };
        var constraints = schemas.Select(s => Constraint(lm, s)).ToArray();
        var prompts = schemas.Select((_, i) => new LmPrompt($"JSON {i}:") { MaxTokens = 80, Temperature = 0.8, Seed = 11 + i }).ToList();
        prompts.Add(new LmPrompt("Free text:") { MaxTokens = 10, Temperature = 0 });
        lm.ConstraintSelector = p => prompts.IndexOf(p) is int i && i < schemas.Length ? constraints[i] : null;

        var many = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        for (int i = 0; i < schemas.Length; i++)
        {
            Check(schemas[i], many[i]);
            Assert.Equal(lm.Predict(prompts[i]).CompletionText, many[i].CompletionText);
        }

        // The unconstrained prompt in the same batch is untouched by the others' constraints.
        lm.ConstraintSelector = null;
        Assert.Equal(lm.Predict(prompts[^1]).CompletionText, many[^1].CompletionText);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public async Task StreamingMatchesPredictAndStreamsTheDocument(string model)
    {
        using var lm = Load(model);
        var constraint = Constraint(lm, JsonMatcherTests.PersonSchema);
        lm.ConstraintSelector = _ => constraint;
        var prompt = new LmPrompt("JSON:") { MaxTokens = 90, Temperature = 0.9, Seed = 21, Logprobs = 3 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(whole.CompletionText, streamed.CompletionText);
        Assert.Equal(streamed.CompletionText, string.Concat(updates.Select(u => u.Text)));
        Check(JsonMatcherTests.PersonSchema, streamed);

        // Logprobs are those of the masked distribution: finite, and the alternatives are all allowed continuations.
        Assert.All(streamed.CompletionLogprobs!, lp => Assert.True(lp <= 0 && double.IsFinite(lp)));
        Assert.All(streamed.TopTokenLogprobs, top => Assert.True(top.Values.All(double.IsFinite) && top.Values.Sum(Math.Exp) <= 1 + 1e-6));
    }

    [Fact]
    public void TheMaskedDistributionIsRenormalized()
    {
        // Inside the literal "true" only a few tokens continue: where fewer than the requested alternatives exist, the
        // alternatives are all of them, and their probabilities sum to one.
        using var lm = Load("gpt2");
        lm.ConstraintSelector = _ => Constraint(lm, """{"enum":[true]}""");
        var forced = lm.Predict(new LmPrompt("JSON:") { MaxTokens = 10, Temperature = 1, Seed = 4, Logprobs = 5 });
        Assert.Equal("true", forced.CompletionText.TrimStart());
        Assert.Equal("stop", forced.FinishReason);
        var few = forced.TopTokenLogprobs.Where(top => top.Count < 5).ToList();
        Assert.NotEmpty(few);
        Assert.All(few, top => Assert.Equal(1.0, top.Values.Sum(Math.Exp), 4));
        Assert.All(forced.TopTokenLogprobs, top => Assert.True(top.Values.Sum(Math.Exp) <= 1 + 1e-6));
    }

    [Fact]
    public void ATooSmallBudgetEndsWithLengthAndAValidPrefix()
    {
        using var lm = Load("llama");
        var constraint = Constraint(lm, JsonMatcherTests.PersonSchema);
        lm.ConstraintSelector = _ => constraint;
        var p = lm.Predict(new LmPrompt("JSON:") { MaxTokens = 6, Temperature = 0 });
        Assert.Equal("length", p.FinishReason);
        Assert.True(JsonMatcher.IsValidPrefix(JsonMatcherTests.Compile(JsonMatcherTests.PersonSchema), p.CompletionText.TrimStart()));
    }

    [Fact]
    public void UnsupportedSchemasAreRefusedBeforeGenerating()
    {
        using var lm = Load("gpt2");
        using var doc = JsonDocument.Parse("""{"type":"string","pattern":"a+"}""");
        var ex = Assert.Throws<LmPromptException>(() => lm.CreateJsonConstraint(doc.RootElement));
        Assert.Contains("'pattern'", ex.Message, StringComparison.Ordinal);

        // A schema compiles once per model: the same text gives the same constraint.
        using var a = JsonDocument.Parse(JsonMatcherTests.PersonSchema);
        using var b = JsonDocument.Parse(JsonMatcherTests.PersonSchema);
        Assert.Same(lm.CreateJsonConstraint(a.RootElement), lm.CreateJsonConstraint(b.RootElement));
        Assert.NotSame(lm.CreateJsonConstraint(a.RootElement), lm.CreateJsonConstraint(null));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public async Task ThePublicResponseFormatConstrainsGenerationAndPredictAsyncOfTDeserializes(string model)
    {
        // Through the public contract only (no test seam): a format on the prompt, and PredictAsync<T>.
        using var lm = Load(model);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.StructuredOutput));
        using var schema = JsonDocument.Parse(JsonMatcherTests.PersonSchema);
        var format = LmResponseFormat.ForJsonSchema(schema.RootElement, "person", strict: false);
        var p = await lm.PredictAsync(new LmPrompt("JSON:") { MaxTokens = 140, Temperature = 0.9, Seed = 2, ResponseFormat = format });
        Check(JsonMatcherTests.PersonSchema, p);
        Assert.Equal(JsonValueKind.Object, p.GetCompletionJson().ValueKind);

        var any = await lm.PredictAsync(new LmPrompt("JSON:") { MaxTokens = 60, Temperature = 0, ResponseFormat = LmResponseFormat.JsonObject });
        Check("""{"type":"object"}""", any);

        var appointment = await lm.PredictAsync<ExporterSamples.Appointment>(new LmPrompt("An appointment as JSON:") { MaxTokens = 160, Temperature = 0.7, Seed = 9 });
        Assert.NotNull(appointment.What);
    }

    [Fact]
    public void AFormatWhoseSchemaIsOutsideTheSubsetIsRefusedWhenValidatedBeforeAnythingRuns()
    {
        using var lm = Load("gpt2");
        using var doc = JsonDocument.Parse("""{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}},"required":["code"]}""");
        var prompt = new LmPrompt("JSON:") { MaxTokens = 20, ResponseFormat = LmResponseFormat.ForJsonSchema(doc.RootElement, "code", strict: false) };
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(prompt));
        Assert.Equal(nameof(LmPrompt.ResponseFormat), e.FieldName);
        Assert.Contains("'pattern'", e.Message, StringComparison.Ordinal);
    }

    private static void Check(string schema, LmPrediction p)
    {
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal("stop", p.FinishReason);
        SchemaChecker.AssertMatches(schema, p.CompletionText);
    }

    private static JsonConstraint Constraint(HuggingFaceLm lm, string? schema)
    {
        if (schema is null)
        {
            return lm.CreateJsonConstraint(null);
        }

        using var doc = JsonDocument.Parse(schema);
        return lm.CreateJsonConstraint(doc.RootElement.Clone());
    }

    private static HuggingFaceLm Load(string model) =>
        RandomModels.Load(RandomModels.Folder($"{model}-json", RandomModels.Specs[model] with { MaxPositions = 192 }));

    private static TheoryData<string, string> Build()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in (string[])["gpt2", "llama"])
        {
            foreach (string schema in (string[])[JsonMatcherTests.PersonSchema, JsonMatcherTests.TreeSchema, JsonMatcherTests.ChoiceSchema, """{"type":"object"}"""])
            {
                data.Add(model, schema);
            }
        }

        return data;
    }
}
