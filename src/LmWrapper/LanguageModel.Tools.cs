using System.Text.Json;

namespace LmWrapper;

/// <content>Tool use and structured output: the capability checks, the tool loop and typed answers.</content>
public abstract partial class LanguageModel
{
    /// <summary>
    /// Runs a tool-use conversation: predicts, runs every tool call the model asks for with <paramref name="tools"/>, adds
    /// the assistant turn (with its calls) and the results to the dialog, and predicts again, until the model answers
    /// without tool calls. Each step is an ordinary prediction through the cache, so rerunning the same conversation (with
    /// handlers that return the same results) costs nothing.
    /// </summary>
    /// <remarks>
    /// The prompt must define the tools (<see cref="LmPrompt.Tools"/>), each with a handler. A
    /// <see cref="LmToolChoiceMode.Required"/> or <see cref="LmToolChoiceMode.Named"/> choice applies to the first step only
    /// (later steps leave the choice to the model, or the loop could never end). Calls run one after another, in the
    /// model's order; a handler's exception stops the loop and propagates.
    /// </remarks>
    /// <param name="prompt">The first prompt, with <see cref="LmPrompt.Tools"/>.</param>
    /// <param name="tools">A handler per tool name: it receives the call's arguments (a JSON object) and returns the result text.</param>
    /// <param name="maxSteps">The most predictions to make (at least 1).</param>
    /// <param name="cancellationToken">Cancels the predictions and is passed to the handlers.</param>
    /// <returns>The final prediction (its <see cref="LmPrediction.Prompt"/> holds the whole conversation), or a failed prediction if a step failed.</returns>
    /// <exception cref="LmPromptException">The prompt has no tools, a tool has no handler, or the prompt is invalid for this model; nothing was sent.</exception>
    /// <exception cref="LmToolLoopException">The model still asked for tools after <paramref name="maxSteps"/> predictions, or called a tool that has no handler.</exception>
    public async Task<LmPrediction> RunToolsAsync(
        LmPrompt prompt,
        IReadOnlyDictionary<string, Func<JsonElement, CancellationToken, Task<string>>> tools,
        int maxSteps = 8,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSteps, 1);
        if (prompt.Tools is not { } defined)
        {
            throw new LmPromptException("RunToolsAsync needs the prompt's Tools (the definitions the model sees); set LmPrompt.Tools.", nameof(LmPrompt.Tools));
        }

        var missing = defined.Where(t => !tools.ContainsKey(t.Name)).Select(t => t.Name).ToList();
        if (missing.Count > 0)
        {
            throw new LmPromptException($"RunToolsAsync has no handler for the tool{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}; pass one for every tool in LmPrompt.Tools.", nameof(LmPrompt.Tools));
        }

        if (prompt.NumCompletions != 1)
        {
            throw new LmPromptException($"RunToolsAsync follows one conversation, so NumCompletions must be 1, but was {prompt.NumCompletions}.", nameof(LmPrompt.NumCompletions));
        }

        ValidatePrompt(prompt);
        var current = prompt;
        LmPrediction? last = null;
        for (int step = 1; step <= maxSteps; step++)
        {
            last = await PredictAsync(current, cancellationToken).ConfigureAwait(false);
            if (last.HasErrors || !last.HasToolCalls)
            {
                return last;
            }

            var results = new List<LmChatTurn>(last.ToolCalls.Count);
            foreach (var call in last.ToolCalls)
            {
                if (!tools.TryGetValue(call.Name, out var handler))
                {
                    throw new LmToolLoopException($"The model called the tool \"{call.Name}\", which has no handler (the handlers are {string.Join(", ", tools.Keys)}).", last);
                }

                string output = await handler(call.GetArguments(), cancellationToken).ConfigureAwait(false);
                results.Add(LmChatTurn.ToolResult(call.Id, string.IsNullOrEmpty(output) ? "(no output)" : output));
            }

            current = last.MakeReplyPrompt(results, p => p.ToolChoice?.Mode is LmToolChoiceMode.Required or LmToolChoiceMode.Named ? p with { ToolChoice = null } : p);
        }

        throw new LmToolLoopException(
            $"The model still asked for tools after {maxSteps} steps (maxSteps = {maxSteps}); raise maxSteps, or check that the tools' results let it answer.", last);
    }

    /// <summary>
    /// Asks for an answer shaped as <typeparamref name="T"/> and returns it deserialized: the prompt's
    /// <see cref="LmPrompt.ResponseFormat"/>, or when it has none <see cref="LmResponseFormat.ForType{T}"/> (a strict JSON
    /// Schema made from <typeparamref name="T"/> by System.Text.Json's <c>JsonSchemaExporter</c>). The answer is checked
    /// against the schema's shape, then read with <see cref="LmResponseFormat.DefaultJsonOptions"/>. Cached like any prediction.
    /// </summary>
    /// <typeparam name="T">The answer's type (an object type).</typeparam>
    /// <param name="prompt">The prompt.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="LmPromptException">The prompt is invalid, or the model has no structured output; nothing was sent.</exception>
    /// <exception cref="LmStructuredOutputException">The answer is not JSON, does not fit the schema, or does not deserialize (the exception carries the raw text).</exception>
    /// <exception cref="LmProviderException">The provider refused or failed the request.</exception>
    public Task<T> PredictAsync<T>(LmPrompt prompt, CancellationToken cancellationToken = default) =>
        PredictAsync<T>(prompt, options: null, cancellationToken);

    /// <summary>
    /// As <see cref="PredictAsync{T}(LmPrompt, CancellationToken)"/>, with the serializer options that make the schema and
    /// read the answer.
    /// </summary>
    /// <typeparam name="T">The answer's type (an object type).</typeparam>
    /// <param name="prompt">The prompt.</param>
    /// <param name="options">Serializer options (property naming, converters); null for <see cref="LmResponseFormat.DefaultJsonOptions"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="LmPromptException">The prompt is invalid, or the model has no structured output; nothing was sent.</exception>
    /// <exception cref="LmStructuredOutputException">The answer is not JSON, does not fit the schema, or does not deserialize (the exception carries the raw text).</exception>
    /// <exception cref="LmProviderException">The provider refused or failed the request.</exception>
    public async Task<T> PredictAsync<T>(LmPrompt prompt, JsonSerializerOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= LmResponseFormat.DefaultJsonOptions;
        var asked = prompt.ResponseFormat is null ? prompt with { ResponseFormat = LmResponseFormat.ForType<T>(options) } : prompt;
        var prediction = await PredictAsync(asked, cancellationToken).ConfigureAwait(false);
        if (prediction.Error is { } error)
        {
            throw new LmProviderException(error);
        }

        var json = prediction.GetCompletionJson();
        T? value;
        try
        {
            value = json.Deserialize<T>(options);
        }
        catch (JsonException e)
        {
            throw new LmStructuredOutputException($"The model's answer does not deserialize to {typeof(T).Name}: {e.Message}", prediction.CompletionText, e);
        }

        return value ?? throw new LmStructuredOutputException($"The model's answer is null, not a {typeof(T).Name}.", prediction.CompletionText);
    }

    /// <summary>Refuses tools and response formats on a model that does not take them (<see cref="LmModelInfo.Capabilities"/>).</summary>
    private void ValidateToolUse(LmPrompt prompt)
    {
        if (prompt.UsesTools && !ModelInfo.Has(LmCapabilities.Tools))
        {
            throw new LmPromptException(
                $"{ModelIdentity} does not take tools (LmCapabilities.Tools): remove LmPrompt.Tools, ToolChoice and the dialog's tool calls and results, or use a model that has tools (OpenAI chat models, Claude, a local chat model whose template takes tools, such as Qwen3).",
                prompt.Tools is not null ? nameof(LmPrompt.Tools) : prompt.ToolChoice is not null ? nameof(LmPrompt.ToolChoice) : nameof(LmPrompt.Chat));
        }

        if (prompt.ResponseFormat is not null && !ModelInfo.Has(LmCapabilities.StructuredOutput))
        {
            throw new LmPromptException(
                $"{ModelIdentity} does not take a response format (LmCapabilities.StructuredOutput): remove LmPrompt.ResponseFormat, or use a model that has structured output (OpenAI chat models, Claude).",
                nameof(LmPrompt.ResponseFormat));
        }
    }
}
