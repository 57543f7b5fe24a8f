using System.CommandLine;
using System.Globalization;
using LmWrapper.Cli.Input;
using LmWrapper.Cli.Models;
using LmWrapper.Cli.Running;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper estimate</c>: tokens and dollars of a JSONL file before running it.</summary>
internal static class EstimateCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var input = CommonOptions.Input();
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("estimate", """
            Estimate the tokens and the most dollars of a JSONL file of prompts, offline (nothing is sent).
            Dollars ASAP and with the batch discount, at each prompt's max_tokens; answers already cached are not subtracted.

            Example:
              lmwrapper estimate --model openai:gpt-4o-mini --input samples/prompts.jsonl
            """)
        {
            model, input, baseUrl, cacheDir,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                using var lm = await ModelFactory.CreateAsync(
                    ModelSpec.Parse(result.GetRequiredValue(model)), CommonOptions.Settings(result, baseUrl, cacheDir), token).ConfigureAwait(false);
                string path = result.GetRequiredValue(input);
                var records = await PromptFile.ReadAsync(path, DatasetRunner.ValidatorFor(lm, CompletionWindow.Asap), token).ConfigureAwait(false);
                foreach (var r in records.Where(r => !r.IsValid))
                {
                    await Console.Error.WriteLineAsync($"{path}: {r.Error}").ConfigureAwait(false);
                }

                var valid = records.Where(r => r.IsValid).Select(r => r.Prompt!).ToList();
                var out_ = Console.Out;
                await out_.WriteLineAsync(Describe(lm, valid, records.Count - valid.Count)).ConfigureAwait(false);
                return valid.Count == records.Count ? ExitCodes.Success : ExitCodes.UsageError;
            },
            ct));
        return command;
    }

    /// <summary>The estimate, as lines of text.</summary>
    /// <param name="lm">The model.</param>
    /// <param name="prompts">The valid prompts.</param>
    /// <param name="badLines">How many lines were not prompts.</param>
    internal static string Describe(LanguageModel lm, IReadOnlyList<LmPrompt> prompts, int badLines)
    {
        ArgumentNullException.ThrowIfNull(lm);
        ArgumentNullException.ThrowIfNull(prompts);
        long input = 0, output = 0;
        decimal asap = 0, batch = 0;
        bool priced = lm.ModelInfo.Prices is not null;
        foreach (var p in prompts)
        {
            input += lm.EstimateTokensInPrompt(p);
            output += (long)(p.MaxTokens ?? lm.DefaultTokensGenerated) * p.NumCompletions;
            if (priced)
            {
                asap += lm.EstimateCost(p, CompletionWindow.Asap).MaxTotalCost;
                batch += lm.EstimateCost(p, CompletionWindow.BatchAny).MaxTotalCost;
            }
        }

        var c = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.AppendLine(c, $"model:             {lm.ModelIdentity}");
        text.AppendLine(c, $"prompts:           {prompts.Count}{(badLines > 0 ? $" ({badLines} bad lines left out)" : string.Empty)}");
        text.AppendLine(c, $"input tokens:      {input}");
        text.AppendLine(c, $"max output tokens: {output}");
        if (priced)
        {
            text.AppendLine(c, $"cost, asap:        at most ${asap:0.######}");
            text.Append(c, $"cost, batch:       at most ${batch:0.######}");
        }
        else
        {
            text.Append("cost:              unknown (no prices for this model)");
        }

        return text.ToString();
    }
}
