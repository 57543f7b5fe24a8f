using System.Text.Json;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>
/// A Hugging Face chat template: the Jinja program in <c>tokenizer_config.json</c>'s <c>chat_template</c> that turns
/// chat messages into the model's prompt text. Rendering follows transformers exactly (jinja2 with
/// <c>trim_blocks</c> and <c>lstrip_blocks</c>, transformers' <c>tojson</c>, <c>raise_exception</c> and
/// <c>strftime_now</c>, <c>tools</c> and <c>documents</c> defined as none unless given).
/// </summary>
/// <example>
/// <code>
/// var template = ChatTemplate.FromTokenizerConfig("model/tokenizer_config.json")!;
/// string prompt = template.Render([LmChatTurn.User("Hi")], bosToken: "&lt;s&gt;", eosToken: "&lt;/s&gt;");
/// </code>
/// </example>
public sealed class ChatTemplate
{
    private readonly List<Stmt> _program;
    private readonly Dictionary<List<Stmt>, string[]> _frameLocals;
    private readonly TimeProvider _time;

    private ChatTemplate(string source, List<Stmt> program, TimeProvider time)
    {
        Source = source;
        _program = program;
        _frameLocals = JinjaScopeAnalysis.Analyze(program);
        _time = time;
    }

    /// <summary>How deeply a template may nest blocks, parentheses and unary operators (counted together); deeper is a <see cref="ChatTemplateLimitException"/> at <see cref="Parse"/>.</summary>
    public const int MaxNestingDepth = 300;

    /// <summary>The most steps (statements run and loop iterations) one render may take; more is a <see cref="ChatTemplateLimitException"/>.</summary>
    public const long MaxRenderSteps = 10_000_000;

    /// <summary>The most characters a render may output, or one string (or list) built by repetition may hold; more is a <see cref="ChatTemplateLimitException"/>.</summary>
    public const int MaxOutputChars = 64 * 1024 * 1024;

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Parses a template.</summary>
    /// <param name="template">The Jinja source.</param>
    /// <param name="timeProvider">The clock behind <c>strftime_now</c> (local time, as transformers uses); the system clock by default.</param>
    /// <returns>The parsed template, ready to render many times.</returns>
    /// <exception cref="ChatTemplateSyntaxException">The template is not valid, with the line and column.</exception>
    /// <exception cref="ChatTemplateLimitException">The template nests deeper than <see cref="MaxNestingDepth"/>.</exception>
    public static ChatTemplate Parse(string template, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        return new ChatTemplate(template, JinjaParser.Parse(template), timeProvider ?? TimeProvider.System);
    }

    /// <summary>Renders chat messages into prompt text, as transformers' <c>apply_chat_template(..., tokenize=False)</c>.</summary>
    /// <param name="messages">
    /// The conversation; each turn becomes a dict with <c>role</c>, <c>content</c> and, when set, <c>name</c>,
    /// <c>reasoning_content</c>, <c>tool_calls</c> (<c>{"type": "function", "id", "function": {"name", "arguments"}}</c>,
    /// arguments as a dict) and <c>tool_call_id</c>, as transformers' messages carry them.
    /// </param>
    /// <param name="addGenerationPrompt">Whether to end with the tokens that start an assistant reply.</param>
    /// <param name="bosToken">The tokenizer's BOS token text (<c>bos_token</c>); left undefined when null.</param>
    /// <param name="eosToken">The tokenizer's EOS token text (<c>eos_token</c>); left undefined when null.</param>
    /// <param name="extraVariables">
    /// More template variables, for example <c>tools</c>, <c>documents</c>, <c>pad_token</c>, <c>enable_thinking</c>,
    /// <c>date_string</c>. Values may be strings, numbers, booleans, null, lists, dictionaries,
    /// <see cref="JsonElement"/>s or plain objects (read as their JSON form).
    /// </param>
    /// <param name="cancellationToken">Stops a long render (an <see cref="OperationCanceledException"/>).</param>
    /// <returns>The rendered prompt.</returns>
    /// <exception cref="ChatTemplateRaisedException">The template called <c>raise_exception</c>.</exception>
    /// <exception cref="ChatTemplateLimitException">The render passed <see cref="MaxRenderSteps"/> or <see cref="MaxOutputChars"/>.</exception>
    /// <exception cref="ChatTemplateException">The template failed while rendering.</exception>
    public string Render(
        IReadOnlyList<LmChatTurn> messages,
        bool addGenerationPrompt = true,
        string? bosToken = null,
        string? eosToken = null,
        IReadOnlyDictionary<string, object?>? extraVariables = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["tools"] = null,
            ["documents"] = null,
        };
        if (extraVariables is not null)
        {
            foreach (var kv in extraVariables) vars[kv.Key] = kv.Value;
        }
        vars["messages"] = messages.Select(m => (object?)Py.MessageToDict(m)).ToList();
        vars["add_generation_prompt"] = addGenerationPrompt;
        if (bosToken is not null) vars["bos_token"] = bosToken;
        if (eosToken is not null) vars["eos_token"] = eosToken;
        return RenderVariables(vars, cancellationToken);
    }

    /// <summary>Renders with exactly the given variables (for messages richer than <see cref="LmChatTurn"/>, such as tool calls).</summary>
    /// <param name="variables">All template variables, e.g. <c>messages</c> as a list of dictionaries or a <see cref="JsonElement"/> array.</param>
    /// <param name="cancellationToken">Stops a long render (an <see cref="OperationCanceledException"/>).</param>
    /// <returns>The rendered text.</returns>
    /// <exception cref="ChatTemplateRaisedException">The template called <c>raise_exception</c>.</exception>
    /// <exception cref="ChatTemplateLimitException">The render passed <see cref="MaxRenderSteps"/> or <see cref="MaxOutputChars"/>.</exception>
    /// <exception cref="ChatTemplateException">The template failed while rendering.</exception>
    public string RenderVariables(IReadOnlyDictionary<string, object?> variables, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var converted = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in variables) converted[kv.Key] = Py.FromClr(kv.Value);
        try
        {
            return new JinjaInterpreter(() => _time.GetLocalNow().DateTime, _frameLocals, cancellationToken).Render(_program, converted);
        }
        catch (InvalidCastException ex)
        {
            throw new ChatTemplateException("The chat template used a value of the wrong type: " + ex.Message, ex);
        }
    }

    /// <summary>
    /// Reads the chat template of a <c>tokenizer_config.json</c>. <c>chat_template</c> is either one template
    /// or a list of <c>{"name", "template"}</c> entries, of which the one named <paramref name="name"/>
    /// (by default <c>"default"</c>) is taken, as transformers does.
    /// </summary>
    /// <param name="tokenizerConfigPath">The path of <c>tokenizer_config.json</c>.</param>
    /// <param name="name">The name of the template to take from a list (for example <c>"tool_use"</c>); null for the default.</param>
    /// <returns>The template, or null when the file has no <c>chat_template</c>.</returns>
    /// <exception cref="ChatTemplateException">The file is not valid JSON, or the named template does not exist.</exception>
    /// <exception cref="ChatTemplateSyntaxException">The template is not valid Jinja.</exception>
    public static ChatTemplate? FromTokenizerConfig(string tokenizerConfigPath, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfigPath);
        string json = File.ReadAllText(tokenizerConfigPath);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("chat_template", out var ct))
                return null;
            string? source = SelectTemplate(ct, name, tokenizerConfigPath);
            return source is null ? null : Parse(source);
        }
        catch (JsonException ex)
        {
            throw new ChatTemplateException($"'{tokenizerConfigPath}' is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Finds a model folder's chat template where transformers looks: <c>chat_template.jinja</c>, then
    /// <c>chat_template.json</c>, then <c>tokenizer_config.json</c>.
    /// </summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="name">The name of the template to take from a list; null for the default.</param>
    /// <returns>The template, or null when the folder has none.</returns>
    /// <exception cref="ChatTemplateException">A file is not valid JSON, or the named template does not exist.</exception>
    public static ChatTemplate? FromModelFolder(string folder, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string jinja = Path.Combine(folder, "chat_template.jinja");
        if (name is null && File.Exists(jinja)) return Parse(File.ReadAllText(jinja));
        string json = Path.Combine(folder, "chat_template.json");
        if (File.Exists(json))
        {
            var t = FromTokenizerConfig(json, name);
            if (t is not null) return t;
        }
        string config = Path.Combine(folder, "tokenizer_config.json");
        return File.Exists(config) ? FromTokenizerConfig(config, name) : null;
    }

    /// <summary>The special-token names transformers passes to chat templates (its <c>special_tokens_map</c>).</summary>
    private static readonly string[] SpecialTokenNames =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "additional_special_tokens"];

    /// <summary>
    /// Reads the special tokens of a <c>tokenizer_config.json</c> as the template variables transformers passes
    /// (<c>bos_token</c>, <c>eos_token</c>, <c>unk_token</c>, <c>sep_token</c>, <c>pad_token</c>, <c>cls_token</c>,
    /// <c>mask_token</c>, <c>additional_special_tokens</c>), accepting both plain strings and AddedToken objects
    /// (<c>{"__type": "AddedToken", "content": "&lt;s&gt;", ...}</c>). Tokens that are null or absent are left out.
    /// </summary>
    /// <param name="tokenizerConfigPath">The path of <c>tokenizer_config.json</c>.</param>
    /// <returns>Variables to pass as <c>extraVariables</c> (values are strings, or a list of strings).</returns>
    /// <exception cref="ChatTemplateException">The file is not valid JSON.</exception>
    public static IReadOnlyDictionary<string, object?> ReadSpecialTokens(string tokenizerConfigPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerConfigPath);
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(tokenizerConfigPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
            foreach (string name in SpecialTokenNames)
            {
                if (!doc.RootElement.TryGetProperty(name, out var v)) continue;
                if (v.ValueKind == JsonValueKind.Array)
                {
                    var list = v.EnumerateArray().Select(TokenText).Where(t => t is not null).Cast<object?>().ToList();
                    result[name] = list;
                }
                else if (TokenText(v) is { } text) result[name] = text;
            }
        }
        catch (JsonException ex)
        {
            throw new ChatTemplateException($"'{tokenizerConfigPath}' is not valid JSON: {ex.Message}", ex);
        }
        return result;

        static string? TokenText(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.Object when e.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };
    }

    private static string? SelectTemplate(JsonElement ct, string? name, string path)
    {
        switch (ct.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                if (name is not null && name != "default")
                    throw new ChatTemplateException($"'{path}' has a single chat template, not one named '{name}'.");
                return ct.GetString();
            case JsonValueKind.Array:
                {
                    var templates = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var item in ct.EnumerateArray())
                    {
                        if (item.ValueKind == JsonValueKind.Object
                            && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                            && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                            templates[n.GetString()!] = t.GetString()!;
                        else
                            throw new ChatTemplateException($"'{path}': each entry of the chat_template list must be {{\"name\": ..., \"template\": ...}}.");
                    }
                    string want = name ?? "default";
                    if (templates.TryGetValue(want, out var source)) return source;
                    string available = string.Join(", ", templates.Keys.Order(StringComparer.Ordinal));
                    throw new ChatTemplateException(name is null
                        ? $"'{path}' has multiple chat templates and none is named 'default'. Pass the name of one: {available}."
                        : $"'{path}' has no chat template named '{name}'. Available: {available}.");
                }
            default:
                throw new ChatTemplateException($"'{path}': chat_template must be a string or a list of named templates.");
        }
    }
}
