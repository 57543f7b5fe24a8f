using System.Text.Json;
using LmWrapper.Cli.Input;

namespace LmWrapper.Cli.Tests;

public class PromptLineParserTests
{
    [Fact]
    public void A_text_line_reads_every_prompt_field_and_keeps_the_metadata()
    {
        var r = PromptLineParser.Parse(
            """{"text": "Once upon a", "max_tokens": 7, "temperature": 0.5, "stop": ["."], "logprobs": 3, "seed": 4, "num_completions": 2, "metadata": {"id": "a1", "n": [1, 2]}}""",
            3);

        Assert.True(r.IsValid);
        Assert.Equal(3, r.LineNumber);
        var p = r.Prompt!;
        Assert.Equal("Once upon a", p.Text);
        Assert.Equal(7, p.MaxTokens);
        Assert.Equal(0.5, p.Temperature);
        Assert.Equal(["."], p.Stop!);
        Assert.Equal(3, p.Logprobs);
        Assert.Equal(4, p.Seed);
        Assert.Equal(2, p.NumCompletions);
        Assert.Equal("a1", r.Metadata!.Value.GetProperty("id").GetString());
        Assert.Equal(2, r.Metadata.Value.GetProperty("n").GetArrayLength());
    }

    [Fact]
    public void Messages_become_a_chat_prompt_equal_to_the_one_built_in_code()
    {
        var r = PromptLineParser.Parse("""{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "temperature": 0}""", 1);

        Assert.True(r.IsValid, r.Error?.ToString());
        var expected = new LmPrompt([LmChatTurn.System("Be brief."), LmChatTurn.User("Hi")]) { Temperature = 0 };
        Assert.Equal(expected, r.Prompt);
    }

    [Fact]
    public void A_line_round_trips_through_LmPrompt_ToJson()
    {
        var prompt = new LmPrompt("x") { MaxTokens = 3, TopP = 0.5, PresencePenalty = 1, Echo = true, Cache = false };
        var r = PromptLineParser.Parse(prompt.ToJson(), 1);
        Assert.Equal(prompt, r.Prompt);
    }

    [Theory]
    [InlineData("""{"text": "hi", "max_tokens": 5,}""", "not valid JSON")]
    [InlineData("""{"text": "hi" "max_tokens": 5}""", "not valid JSON")]
    [InlineData("""["text"]""", "JSON object")]
    public void Invalid_json_is_reported_with_a_column(string line, string expected)
    {
        var r = PromptLineParser.Parse(line, 9);

        Assert.False(r.IsValid);
        Assert.Equal(9, r.Error!.LineNumber);
        Assert.Contains(expected, r.Error.Message, StringComparison.Ordinal);
        Assert.InRange(r.Error.Column, 1, line.Length + 1);
        Assert.StartsWith("line 9, column ", r.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_field_points_at_its_name()
    {
        const string line = """{"text": "hi", "temprature": 0}""";
        var r = PromptLineParser.Parse(line, 2);

        Assert.False(r.IsValid);
        Assert.Equal(line.IndexOf("\"temprature\"", StringComparison.Ordinal) + 1, r.Error!.Column);
        Assert.Contains("temprature", r.Error.Message, StringComparison.Ordinal);
        Assert.Contains("temperature", r.Error.Message, StringComparison.Ordinal); // the known fields are listed
    }

    [Fact]
    public void A_value_of_the_wrong_type_points_at_the_value_counting_characters_not_bytes()
    {
        const string line = """{"metadata": "é€", "max_tokens": "ten", "text": "hi"}""";
        var r = PromptLineParser.Parse(line, 1);

        Assert.False(r.IsValid);
        Assert.Equal(line.IndexOf("\"ten\"", StringComparison.Ordinal) + 1, r.Error!.Column);
        Assert.Contains("max_tokens", r.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_out_of_range_value_points_at_that_field()
    {
        const string line = """{"text": "hi", "temperature": 5}""";
        var r = PromptLineParser.Parse(line, 1);

        Assert.False(r.IsValid);
        Assert.Equal(line.IndexOf('5', StringComparison.Ordinal) + 1, r.Error!.Column);
        Assert.Contains("Temperature", r.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"max_tokens": 5}""", "needs \"text\"")]
    [InlineData("""{"text": "a", "messages": [{"role": "user", "content": "b"}]}""", "not both")]
    [InlineData("""{"text": "a", "text": "b"}""", "twice")]
    [InlineData("""{"messages": [{"role": "robot", "content": "b"}]}""", "robot")]
    [InlineData("""{"text": "a"} {"text": "b"}""", "not valid JSON")]
    public void Malformed_prompts_are_refused(string line, string expected)
    {
        var r = PromptLineParser.Parse(line, 1);
        Assert.False(r.IsValid);
        Assert.Contains(expected, r.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_model_validator_runs_and_its_refusal_is_a_line_error()
    {
        using var lm = new MockLm(tokenLimit: 10);
        var r = PromptLineParser.Parse("""{"text": "hi", "internals": {"hidden_states": true}}""", 4, Running.DatasetRunner.ValidatorFor(lm, CompletionWindow.Asap));

        Assert.False(r.IsValid);
        Assert.Contains("internals", r.Error!.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_line_can_carry_tools_a_tool_choice_a_response_format_and_reasoning()
    {
        var r = PromptLineParser.Parse(
            """{"text": "call f", "tools": [{"name": "f", "parameters": {"type": "object"}}], "tool_choice": {"type": "required"}, "response_format": {"type": "json_object"}, "reasoning_effort": "low"}""",
            1);
        Assert.True(r.IsValid, r.Error?.Message);
        Assert.Equal("f", Assert.Single(r.Prompt!.Tools!).Name);
        Assert.Equal(LmToolChoice.Required, r.Prompt.ToolChoice);
        Assert.Equal(LmResponseFormat.JsonObject, r.Prompt.ResponseFormat);
        Assert.Equal(LmReasoningEffort.Low, r.Prompt.ReasoningEffort);
    }

    [Fact]
    public void Known_fields_come_from_the_prompt_serialization()
    {
        using var doc = JsonDocument.Parse(new LmPrompt("x") { MaxTokens = 1, Seed = 2 }.ToJson());
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            Assert.Contains(property.Name, PromptLineParser.KnownFields);
        }

        Assert.Contains("messages", PromptLineParser.KnownFields);
        Assert.Contains("metadata", PromptLineParser.KnownFields);
    }

    [Theory]
    [InlineData("MaxTokens", "max_tokens")]
    [InlineData("Temperature", "temperature")]
    [InlineData("AddBosToken", "add_bos_token")]
    public void Snake_case_matches_the_serialized_names(string name, string expected) =>
        Assert.Equal(expected, PromptLineParser.SnakeCase(name));
}
