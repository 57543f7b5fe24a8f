namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// A prompt as the model sees it: the text (a chat prompt rendered by the chat template), its ids with any
/// beginning-of-sequence token, and where each id came from in the text.
/// </summary>
internal sealed class PromptEncoding
{
    private PromptEncoding(string text, int[] ids, int[] starts, bool hasBos)
    {
        Text = text;
        Ids = ids;
        Starts = starts;
        HasBos = hasBos;
    }

    /// <summary>The text that was tokenized.</summary>
    public string Text { get; }

    /// <summary>The ids fed to the model.</summary>
    public int[] Ids { get; }

    /// <summary>Each id's start in <see cref="Text"/>.</summary>
    public int[] Starts { get; }

    /// <summary>Whether Ids[0] is a beginning-of-sequence token (hidden from echoed prompt tokens).</summary>
    public bool HasBos { get; }

    public static PromptEncoding Create(LmPrompt prompt, HuggingFaceTokenizer tokenizer, int? bos, bool chatMode, string model)
    {
        string text;
        bool addSpecial;
        if (prompt.IsChat || chatMode)
        {
            text = Render(prompt, tokenizer, model);
            addSpecial = prompt.AddSpecialTokens ?? false; // the template writes its own special tokens, as apply_chat_template(tokenize=True)
        }
        else
        {
            text = prompt.Text!;
            addSpecial = prompt.AddSpecialTokens ?? true;
        }

        var encoding = tokenizer.EncodeWithOffsets(text, addSpecial);
        var ids = new List<int>(encoding.Ids);
        var starts = new List<int>(encoding.Offsets.Select(o => o.Start));
        bool hasBos = bos is int b && ids.Count > 0 && ids[0] == b;
        if (bos is int bosId)
        {
            bool want = prompt.AddBosToken ?? true;
            if (want && !hasBos)
            {
                ids.Insert(0, bosId);
                starts.Insert(0, 0);
                hasBos = true;
            }
            else if (!want && hasBos && encoding.Offsets[0] == (0, 0) && encoding.IsSpecial[0])
            {
                ids.RemoveAt(0);
                starts.RemoveAt(0);
                hasBos = false;
            }
        }
        else if (prompt.AddBosToken == true)
        {
            throw new LmPromptException($"AddBosToken is true, but {model}'s tokenizer has no beginning-of-sequence token.", nameof(LmPrompt.AddBosToken));
        }

        if (ids.Count == 0)
        {
            throw new LmPromptException(
                $"The prompt has no tokens, and {model} has no beginning-of-sequence token to generate from; give it some text.",
                nameof(LmPrompt.Text));
        }

        return new PromptEncoding(text, [.. ids], [.. starts], hasBos);
    }

    /// <summary>Renders a dialog with the chat template; a trailing assistant turn is continued (transformers' continue_final_message).</summary>
    private static string Render(LmPrompt prompt, HuggingFaceTokenizer tokenizer, string model)
    {
        if (tokenizer.ChatTemplate is null)
        {
            throw new LmPromptException(
                $"{model} has no chat template, so it cannot take a chat prompt; give it plain text (LmPrompt.GetTextAsStringDefaultForm gives one).",
                nameof(LmPrompt.Chat));
        }

        var turns = prompt.GetTextAsChat();
        bool continueLast = turns[^1].Role == LmChatRole.Assistant;
        string rendered;
        try
        {
            bool? enableThinking = prompt.ReasoningEffort is { } effort ? effort != LmReasoningEffort.None : null;
            rendered = tokenizer.RenderChat(turns, !continueLast, enableThinking, prompt.Tools);
        }
        catch (ChatTemplates.ChatTemplateException e)
        {
            throw new LmPromptException($"{model}'s chat template rejected the dialog: {e.Message}", nameof(LmPrompt.Chat));
        }

        if (continueLast)
        {
            string last = turns[^1].Content.Trim();
            int at = rendered.LastIndexOf(last, StringComparison.Ordinal);
            if (at < 0)
            {
                throw new LmPromptException($"{model}'s chat template does not write the final assistant turn verbatim, so it cannot be continued.", nameof(LmPrompt.Chat));
            }

            rendered = rendered[..(at + last.Length)];
        }

        return rendered;
    }
}
