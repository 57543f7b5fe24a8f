using LmWrapper.Cli.Commands;
using LmWrapper.Cli.Models;
using LmWrapper.Cli.Running;

namespace LmWrapper.Cli.Tests;

public class ParsingTests
{
    [Theory]
    [InlineData("openai:gpt-4o-mini", "OpenAi", "gpt-4o-mini")]
    [InlineData("claude:claude-3-5-haiku-20241022", "Claude", "claude-3-5-haiku-20241022")]
    [InlineData("hf:openai-community/gpt2", "HuggingFace", "openai-community/gpt2")]
    [InlineData("hf:samples/models/stories260K", "HuggingFace", "samples/models/stories260K")]
    [InlineData("hf:C:/models/x", "HuggingFace", "C:/models/x")]
    [InlineData("mock:", "Mock", "echo")]
    [InlineData("mock:parrot", "Mock", "parrot")]
    public void Model_specs_parse(string text, string provider, string name)
    {
        var spec = ModelSpec.Parse(text);
        Assert.Equal(Enum.Parse<ModelProvider>(provider), spec.Provider);
        Assert.Equal(name, spec.Name);
    }

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("azure:gpt-4o")]
    [InlineData("openai:")]
    [InlineData("hf:  ")]
    public void Bad_model_specs_say_the_syntax(string text)
    {
        var e = Assert.Throws<CliUsageException>(() => ModelSpec.Parse(text));
        Assert.Contains("openai:", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1GB", 1L << 30)]
    [InlineData("500mb", 500L << 20)]
    [InlineData("1.5KB", 1536)]
    [InlineData("10B", 10)]
    public void Sizes_parse(string text, long bytes) => Assert.Equal(bytes, SizeParser.ParseBytes(text));

    [Theory]
    [InlineData("30d", 30 * 24)]
    [InlineData("12h", 12)]
    [InlineData("2w", 14 * 24)]
    public void Ages_parse(string text, double hours) => Assert.Equal(TimeSpan.FromHours(hours), SizeParser.ParseAge(text));

    [Theory]
    [InlineData("1 gigabyte")]
    [InlineData("-5MB")]
    [InlineData("GB")]
    public void Bad_sizes_are_usage_errors(string text) => Assert.Throws<CliUsageException>(() => SizeParser.ParseBytes(text));

    [Theory]
    [InlineData("30")]
    [InlineData("30y")]
    [InlineData("d")]
    public void Bad_ages_are_usage_errors(string text) => Assert.Throws<CliUsageException>(() => SizeParser.ParseAge(text));

    [Fact]
    public void Run_options_parse_to_their_values()
    {
        var result = CommandLineApp.Create().Parse(
            ["run", "--model", "mock:", "--input", "in.jsonl", "--output", "out.jsonl", "--window", "batch", "--rpm", "60", "--tpm", "9000", "--max-cost", "2.5", "--on-error", "stop"]);

        Assert.Empty(result.Errors);
        Assert.Equal("run", result.CommandResult.Command.Name);
        Assert.Equal("batch", result.GetValue<string>("--window"));
        Assert.Equal(60, result.GetValue<int?>("--rpm"));
        Assert.Equal(9000L, result.GetValue<long?>("--tpm"));
        Assert.Equal(2.5m, result.GetValue<decimal?>("--max-cost"));
        Assert.Equal("stop", result.GetValue<string>("--on-error"));
    }

    [Theory]
    [InlineData("run", "--model", "mock:", "--input", "a", "--output", "b", "--window", "later")]
    [InlineData("run", "--model", "mock:", "--input", "a", "--output", "b", "--on-error", "ignore")]
    [InlineData("run", "--model", "mock:", "--input", "a", "--output", "b", "--rpm", "0")]
    [InlineData("run", "--model", "mock:", "--input", "a", "--output", "b", "--max-cost", "-1")]
    [InlineData("run", "--model", "mock:", "--input", "a")]
    [InlineData("run", "--model", "mock:", "--input", "a", "--output", "b", "--base-url", "ftp://x")]
    [InlineData("predict", "hello")]
    [InlineData("cache", "shrink")]
    [InlineData("models", "--provider", "azure")]
    public void Bad_command_lines_are_parse_errors(params string[] args) =>
        Assert.NotEmpty(CommandLineApp.Create().Parse(args).Errors);

    [Fact]
    public async Task A_bad_command_line_exits_with_2()
    {
        Assert.Equal(ExitCodes.UsageError, await Program.RunAsync(["run", "--model", "mock:"], CancellationToken.None));
    }

    [Fact]
    public void Exit_codes_follow_the_summary()
    {
        Assert.Equal(0, new RunSummary { Total = 3, Written = 3 }.ExitCode);
        Assert.Equal(1, new RunSummary { Total = 3, Written = 3, FailedLines = [2] }.ExitCode);
        Assert.Equal(1, new RunSummary { Total = 3, Written = 1, NotRunForBudget = 2 }.ExitCode);
        Assert.Equal(130, new RunSummary { Total = 3, Written = 1, FailedLines = [1], Interrupted = true }.ExitCode);
    }
}
