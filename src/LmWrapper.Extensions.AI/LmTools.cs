using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.AI;

/// <summary>
/// Tools from C#: <see cref="LmToolDefinition"/>s made from Microsoft.Extensions.AI functions (whose
/// <c>AIFunctionFactory</c> builds the JSON Schema of a delegate's or method's parameters), and the tool loop run with them.
/// </summary>
/// <remarks>
/// The core LmWrapper package keeps its dependencies few, so the delegate and <see cref="AIFunction"/> builders live here,
/// where Microsoft.Extensions.AI.Abstractions already is.
/// </remarks>
public static class LmTools
{
    /// <summary>The tool definition of an MEAI function (its name, description and parameters schema).</summary>
    /// <param name="function">The function or declaration.</param>
    /// <exception cref="LmPromptException">Its name is not a valid tool name, or its schema is not an object schema.</exception>
    public static LmToolDefinition ToLmToolDefinition(this AIFunctionDeclaration function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new LmToolDefinition(function.Name, function.Description, function.JsonSchema);
    }

    /// <summary>
    /// Makes an <see cref="AIFunction"/> from a delegate with <c>AIFunctionFactory.Create</c>: its parameters' JSON Schema
    /// comes from their types (and <c>[Description]</c> attributes). Pass it to
    /// <see cref="RunToolsAsync(LanguageModel, LmPrompt, IEnumerable{AIFunction}, int, CancellationToken)"/>, or take its
    /// definition with <see cref="ToLmToolDefinition"/>.
    /// </summary>
    /// <param name="method">The method to call.</param>
    /// <param name="name">The tool's name (<c>^[a-zA-Z0-9_-]{1,64}$</c>); null for the method's name.</param>
    /// <param name="description">What the tool does; null for the method's <c>[Description]</c>.</param>
    public static AIFunction FromDelegate(Delegate method, string? name = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        return AIFunctionFactory.Create(method, name, description);
    }

    /// <summary>The tool definitions of several functions, for <see cref="LmPrompt.Tools"/>.</summary>
    /// <param name="functions">The functions.</param>
    /// <exception cref="LmPromptException">A name or schema is not valid.</exception>
    public static IReadOnlyList<LmToolDefinition> Definitions(IEnumerable<AIFunctionDeclaration> functions)
    {
        ArgumentNullException.ThrowIfNull(functions);
        return [.. functions.Select(f => f.ToLmToolDefinition())];
    }

    /// <summary>
    /// <see cref="LanguageModel.RunToolsAsync(LmPrompt, IReadOnlyDictionary{string, Func{JsonElement, CancellationToken, Task{string}}}, int, CancellationToken)"/>
    /// with MEAI functions as the handlers: each call's arguments go to the function's <c>InvokeAsync</c>, and its result
    /// (a string as it is, anything else as JSON) is the tool result. A prompt without <see cref="LmPrompt.Tools"/> gets the
    /// functions' definitions.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="prompt">The first prompt.</param>
    /// <param name="functions">The tools, by their names.</param>
    /// <param name="maxSteps">The most predictions to make.</param>
    /// <param name="cancellationToken">Cancels the predictions and the functions.</param>
    /// <returns>The final prediction.</returns>
    /// <exception cref="LmPromptException">A tool has no function, or the prompt is invalid; nothing was sent.</exception>
    /// <exception cref="LmToolLoopException">The model still asked for tools after <paramref name="maxSteps"/> predictions, or called an unknown tool.</exception>
    public static Task<LmPrediction> RunToolsAsync(
        this LanguageModel model,
        LmPrompt prompt,
        IEnumerable<AIFunction> functions,
        int maxSteps = 8,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(functions);
        var list = functions.ToList();
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>(StringComparer.Ordinal);
        foreach (var function in list)
        {
            handlers[function.Name] = async (args, ct) =>
            {
                var arguments = new AIFunctionArguments(
                    args.ValueKind == JsonValueKind.Object ? args.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal) : []);
                var result = await function.InvokeAsync(arguments, ct).ConfigureAwait(false);
                return ResultText(result);
            };
        }

        return model.RunToolsAsync(prompt.Tools is null ? prompt with { Tools = Definitions(list) } : prompt, handlers, maxSteps, cancellationToken);
    }

    /// <summary>A function's result as tool-result text: a string as it is, JSON text as it is, anything else serialized.</summary>
    internal static string ResultText(object? result) => result switch
    {
        null => string.Empty,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        JsonElement e => e.GetRawText(),
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions.GetTypeInfo(result.GetType())),
    };
}
