using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LmWrapper.Cli.Models;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper tokens</c>: a text's token count, ids and token strings.</summary>
internal static class TokensCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var json = new Option<bool>("--json") { Description = "Print {\"count\", \"ids\", \"tokens\"} as JSON." };
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var text = new Argument<string?>("text") { Description = "The text (default: standard input).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("tokens", """
            Count a text's tokens for a model, offline, with their ids and strings where the tokenizer is local.
            Local tokenizers: OpenAI's tiktoken encodings and Hugging Face models. Claude's count is an offline estimate.

            Example:
              lmwrapper tokens --model openai:gpt-4o-mini "My name is Spingldorph"
            """)
        {
            model, json, baseUrl, cacheDir, text,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                string? input = result.GetValue(text);
                if (input is null)
                {
                    if (!Console.IsInputRedirected)
                    {
                        throw new CliUsageException("Give the text as an argument or on standard input.");
                    }

                    input = await Console.In.ReadToEndAsync(token).ConfigureAwait(false);
                }

                using var lm = await ModelFactory.CreateAsync(
                    ModelSpec.Parse(result.GetRequiredValue(model)), CommonOptions.Settings(result, baseUrl, cacheDir), token).ConfigureAwait(false);
                var (count, ids, tokens) = TokenInspector.Inspect(lm, input);
                if (result.GetValue(json))
                {
                    using var stream = Console.OpenStandardOutput();
                    using (var w = new Utf8JsonWriter(stream))
                    {
                        w.WriteStartObject();
                        w.WriteNumber("count", count);
                        if (ids is not null && tokens is not null)
                        {
                            w.WriteStartArray("ids");
                            foreach (int id in ids)
                            {
                                w.WriteNumberValue(id);
                            }

                            w.WriteEndArray();
                            w.WriteStartArray("tokens");
                            foreach (var t in tokens)
                            {
                                w.WriteStringValue(t);
                            }

                            w.WriteEndArray();
                        }

                        w.WriteEndObject();
                    }

                    stream.Write("\n"u8);
                }
                else
                {
                    await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{count} tokens")).ConfigureAwait(false);
                    if (ids is not null && tokens is not null)
                    {
                        for (int i = 0; i < ids.Count; i++)
                        {
                            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{ids[i],8}  {JsonSerializer.Serialize(tokens[i])}")).ConfigureAwait(false);
                        }
                    }
                    else
                    {
                        await Console.Out.WriteLineAsync($"(ids are not available offline for {lm.ModelIdentity}; the count is an estimate)").ConfigureAwait(false);
                    }
                }

                return ExitCodes.Success;
            },
            ct));
        return command;
    }
}
