using System.CommandLine;
using System.CommandLine.Help;

namespace LmWrapper.Cli.Commands;

/// <summary>The <c>lmwrapper</c> root command and its subcommands.</summary>
internal static class CommandLineApp
{
    /// <summary>Creates the root command.</summary>
    public static RootCommand Create()
    {
        var root = CreateCommands();

        // A command's help shows its whole description (with examples); the root's lists each command by its first line.
        if (root.Options.OfType<HelpOption>().FirstOrDefault() is { Action: { } standard } help)
        {
            help.Action = new ConciseRootHelpAction(standard);
        }

        return root;
    }

    private static RootCommand CreateCommands() => new("""
        lmwrapper: run prompts through OpenAI, Claude, local Hugging Face models or a mock, with LmWrapper's response
        cache (reruns are free), resumable dataset runs, ASAP or provider batches.

        MODEL is openai:NAME, claude:NAME, hf:ORG/NAME, hf:PATH or mock:. Keys: OPENAI_API_KEY, ANTHROPIC_API_KEY.

        Examples:
          lmwrapper run --model hf:samples/models/stories260K --input samples/prompts.jsonl --output predictions.jsonl
          lmwrapper predict --model mock: "Hello there"
          lmwrapper estimate --model openai:gpt-4o-mini --input samples/prompts.jsonl
        """)
    {
        RunCommand.Create(),
        PredictCommand.Create(),
        EstimateCommand.Create(),
        TokensCommand.Create(),
        ModelsCommand.Create(),
        CacheCommand.Create(),
        BatchesCommand.Create(),
    };
}
