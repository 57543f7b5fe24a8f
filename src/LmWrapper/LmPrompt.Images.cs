namespace LmWrapper;

/// <summary>Images in prompts: what the providers and validation need to know.</summary>
public sealed partial record LmPrompt
{
    /// <summary>Whether any chat turn holds an image (a model without <see cref="LmCapabilities.Vision"/> refuses such a prompt).</summary>
    public bool HasImages => Chat is { } chat && chat.Any(t => t.HasImages);

    /// <summary>Every image part of the prompt, in order, with the index of its turn.</summary>
    internal IEnumerable<(int Turn, LmContentPart Part)> ImageParts()
    {
        if (Chat is not { } chat)
        {
            yield break;
        }

        for (int i = 0; i < chat.Count; i++)
        {
            if (chat[i].Parts is { } parts)
            {
                foreach (var p in parts)
                {
                    if (p?.Image is not null)
                    {
                        yield return (i, p);
                    }
                }
            }
        }
    }

    /// <summary>Checks a turn's parts: no null part, text that is <see cref="LmChatTurn.Content"/>, images only on user turns.</summary>
    private static void CheckParts(IReadOnlyList<LmContentPart> parts, int i, LmChatTurn turn)
    {
        for (int p = 0; p < parts.Count; p++)
        {
            var part = parts[p] ?? throw new LmPromptException($"Part {p} of chat turn {i} is null.", nameof(Chat));
            if (part.Image is not null && turn.Role != LmChatRole.User)
            {
                throw new LmPromptException(
                    $"Chat turn {i} ({turn.RoleName}) holds an image; images go on user turns only (as both OpenAI and Claude require).", nameof(Chat));
            }

            if (part.Image is not null && !Enum.IsDefined(part.Detail))
            {
                throw new LmPromptException($"Part {p} of chat turn {i} has an unknown image detail ({(int)part.Detail}).", nameof(Chat));
            }

            if (part.Text is { } text)
            {
                CheckNoLoneSurrogate(text, $"Part {p} of chat turn {i}", nameof(Chat));
            }
        }

        string joined = LmChatTurn.JoinText(parts);
        if (joined != turn.Content)
        {
            throw new LmPromptException(
                $"Chat turn {i} ({turn.RoleName}) has Parts whose text differs from its Content; Content must be the text parts joined by a newline. "
                + "Make the turn with LmChatTurn.User(text, images) or LmChatTurn.FromParts, or change Parts and Content together.",
                nameof(Chat));
        }
    }
}
