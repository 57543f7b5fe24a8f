using System.CommandLine;
using LmWrapper.Cli.Models;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper predict</c>: one prompt, from the command line or standard input.</summary>
internal static class PredictCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var maxTokens = new Option<int>("--max-tokens") { Description = "The most tokens to generate.", DefaultValueFactory = _ => 100 };
        var temperature = new Option<double?>("--temperature", "-t") { Description = "Sampling temperature, 0 (greedy) to 2. Default 1." };
        var logprobs = new Option<int?>("--logprobs") { Description = "Log probabilities per token: 1 the chosen token's, k > 1 the top k too, 0 none." };
        var stop = new Option<string[]>("--stop") { Description = "A stop sequence (repeat for more).", AllowMultipleArgumentsPerToken = false };
        var system = new Option<string?>("--system") { Description = "A system message (makes the prompt a chat)." };
        var json = new Option<bool>("--json") { Description = "Print the whole prediction as JSON (tokens, logprobs, usage, cost)." };
        var seed = new Option<int?>("--seed") { Description = "A sampling seed, where the model takes one." };
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var text = new Argument<string?>("text") { Description = "The prompt (default: standard input).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("predict", """
            Complete one prompt and print the completion (cached like every call).

            Examples:
              lmwrapper predict --model hf:samples/models/stories260K --temperature 0 "Once upon a time"
              echo "What is 2+2?" | lmwrapper predict --model openai:gpt-4o-mini --json
            """)
        {
            model, maxTokens, temperature, logprobs, stop, system, json, seed, baseUrl, cacheDir, text,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                string? promptText = result.GetValue(text);
                if (promptText is null)
                {
                    if (!Console.IsInputRedirected)
                    {
                        throw new CliUsageException("Give the prompt text as an argument or on standard input.");
                    }

                    promptText = (await Console.In.ReadToEndAsync(token).ConfigureAwait(false)).TrimEnd('\r', '\n');
                }

                var prompt = BuildPrompt(promptText, result.GetValue(system)) with
                {
                    MaxTokens = result.GetValue(maxTokens),
                    Stop = result.GetValue(stop) is { Length: > 0 } s ? s : null,
                    Seed = result.GetValue(seed),
                };
                if (result.GetValue(temperature) is { } t)
                {
                    prompt = prompt with { Temperature = t };
                }

                if (result.GetValue(logprobs) is { } k)
                {
                    prompt = prompt with { Logprobs = k };
                }

                using var lm = await ModelFactory.CreateAsync(
                    ModelSpec.Parse(result.GetRequiredValue(model)), CommonOptions.Settings(result, baseUrl, cacheDir), token).ConfigureAwait(false);
                var p = await lm.PredictAsync(prompt, token).ConfigureAwait(false);
                if (result.GetValue(json))
                {
                    await Console.Out.WriteLineAsync(p.ToJson()).ConfigureAwait(false);
                }
                else if (!p.HasErrors)
                {
                    await Console.Out.WriteLineAsync(p.CompletionText).ConfigureAwait(false);
                }

                if (p.HasErrors)
                {
                    await Console.Error.WriteLineAsync("error: " + p.ErrorMessage).ConfigureAwait(false);
                    return ExitCodes.SomeFailed;
                }

                return ExitCodes.Success;
            },
            ct));
        return command;
    }

    /// <summary>The prompt for a text and an optional system message.</summary>
    /// <param name="text">The user's text.</param>
    /// <param name="system">A system message, or null.</param>
    internal static LmPrompt BuildPrompt(string text, string? system) =>
        system is null ? new LmPrompt(text) : new LmPrompt([LmChatTurn.System(system), LmChatTurn.User(text)]);
}
