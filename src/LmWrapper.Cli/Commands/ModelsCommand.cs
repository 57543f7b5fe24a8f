using System.CommandLine;
using System.Globalization;
using LmWrapper.Anthropic;
using LmWrapper.OpenAI;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper models</c>: the models LmWrapper knows, with context, max output, prices and capabilities.</summary>
internal static class ModelsCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var provider = new Option<string?>("--provider", "-p") { Description = "Only this provider's models: openai, claude, hf or mock." };
        provider.AcceptOnlyFromAmong("openai", "claude", "hf", "mock");
        var command = new Command("models", """
            List the models LmWrapper knows: context window, max output, prices and capabilities.
            Prices are dollars per million input/output tokens. Any OpenAI-compatible server's model works too
            (openai:NAME with --base-url), as does any local Hugging Face folder or hub id (hf:PATH, hf:ORG/NAME).

            Example:
              lmwrapper models --provider openai
            """)
        {
            provider,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            token =>
            {
                string[] header = ["model", "context", "max output", "$/M in", "$/M out", "capabilities"];
                TableOutput.Write(header, Rows(result.GetValue(provider)));
                return Task.FromResult(ExitCodes.Success);
            },
            ct));
        return command;
    }

    /// <summary>The table's rows for one provider, or all.</summary>
    /// <param name="provider">openai, claude, hf, mock, or null for all.</param>
    internal static IEnumerable<string[]> Rows(string? provider)
    {
        var c = CultureInfo.InvariantCulture;
        if (provider is null or "openai")
        {
            foreach (var m in OpenAiModelRegistry.All)
            {
                var caps = new List<string> { m.IsChatModel ? "chat" : "completion" };
                if (m.SupportsLogprobs)
                {
                    caps.Add("logprobs");
                }

                if (m.SupportsEcho)
                {
                    caps.Add("echo");
                }

                if (m.IsReasoningModel)
                {
                    caps.Add("reasoning");
                }

                caps.Add("batch");
                yield return ["openai:" + m.Name, m.ContextWindow.ToString(c), m.MaxOutputTokens.ToString(c),
                    m.Prices?.InputPerMillion.ToString(c) ?? "?", m.Prices?.OutputPerMillion.ToString(c) ?? "?", string.Join(", ", caps)];
            }
        }

        if (provider is null or "claude")
        {
            foreach (var m in ClaudeModelNames.All)
            {
                yield return ["claude:" + m.Name, m.ContextWindow.ToString(c), m.MaxOutputTokens.ToString(c),
                    m.InputPricePerMillion.ToString(c), m.OutputPricePerMillion.ToString(c), "chat, batch"];
            }
        }

        if (provider is null or "hf")
        {
            yield return ["hf:PATH or hf:ORG/NAME", "config.json", "-", "0", "0", "chat (with a template), logprobs, echo, internals"];
        }

        if (provider is null or "mock")
        {
            yield return ["mock:", "4096", "256", "?", "?", "echoes the prompt, offline"];
        }
    }
}
