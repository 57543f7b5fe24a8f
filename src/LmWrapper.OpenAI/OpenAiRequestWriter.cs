using System.Text.Json;

namespace LmWrapper.OpenAI;

/// <summary>Writes the JSON body of a chat or completions request for one prompt.</summary>
internal static class OpenAiRequestWriter
{
    public static void WriteChat(Utf8JsonWriter w, OpenAiModelInfo model, LmPrompt prompt, int n, int maxTokens, bool legacyMaxTokens, bool stream = false)
    {
        w.WriteStartObject();
        w.WriteString("model"u8, model.Name);
        w.WriteStartArray("messages"u8);
        if (prompt.Chat is { } chat)
        {
            foreach (var turn in chat)
            {
                w.WriteStartObject();
                w.WriteString("role"u8, turn.RoleName);
                if (turn.Parts is { } parts)
                {
                    WriteParts(w, parts);
                }
                else if (turn.ToolCalls is not null && turn.Content.Length == 0)
                {
                    w.WriteNull("content"u8);
                }
                else
                {
                    w.WriteString("content"u8, turn.Content);
                }

                if (turn.Name is { } name && turn.ToolCallId is null)
                {
                    w.WriteString("name"u8, name);
                }

                WriteToolTurnFields(w, turn);
                w.WriteEndObject();
            }
        }
        else
        {
            w.WriteStartObject();
            w.WriteString("role"u8, "user"u8);
            w.WriteString("content"u8, prompt.Text);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        // OpenAI's reference marks max_tokens deprecated for chat (reasoning models refuse it); some compatible servers know only it.
        w.WriteNumber(legacyMaxTokens && !model.IsReasoningModel ? "max_tokens"u8 : "max_completion_tokens"u8, maxTokens);
        if (prompt.ReasoningEffort is { } effort)
        {
            w.WriteString("reasoning_effort"u8, Serialization.PredictionJson.ReasoningEffortName(effort));
        }

        WriteSampling(w, model, prompt, n);
        WriteTools(w, prompt);
        if (prompt.Logprobs >= 1 && model.SupportsLogprobs)
        {
            w.WriteBoolean("logprobs"u8, true);

            // As in the Python lmwrapper, Logprobs = 1 asks for the top alternative too, so TopTokenLogprobs works.
            w.WriteNumber("top_logprobs"u8, prompt.Logprobs);
        }

        WriteStream(w, stream);
        w.WriteEndObject();
    }

    public static void WriteCompletion(Utf8JsonWriter w, OpenAiModelInfo model, LmPrompt prompt, string text, int n, int maxTokens, bool stream = false)
    {
        w.WriteStartObject();
        w.WriteString("model"u8, model.Name);
        w.WriteString("prompt"u8, text);
        w.WriteNumber("max_tokens"u8, maxTokens);
        WriteSampling(w, model, prompt, n);
        if (model.SupportsLogprobs && (prompt.Logprobs >= 1 || prompt.Echo))
        {
            w.WriteNumber("logprobs"u8, prompt.Logprobs);
        }

        if (prompt.Echo)
        {
            w.WriteBoolean("echo"u8, true);
        }

        WriteStream(w, stream);
        w.WriteEndObject();
    }

    /// <summary>A turn with parts: a content array of text parts and <c>image_url</c> parts (a data URI or the URL, and the detail).</summary>
    private static void WriteParts(Utf8JsonWriter w, IReadOnlyList<LmContentPart> parts)
    {
        w.WriteStartArray("content"u8);
        foreach (var part in parts)
        {
            w.WriteStartObject();
            if (part.Image is { } image)
            {
                w.WriteString("type"u8, "image_url"u8);
                w.WriteStartObject("image_url"u8);
                w.WriteString("url"u8, image.ToDataUri());
                if (part.Detail != LmImageDetail.Auto)
                {
                    w.WriteString("detail"u8, part.Detail == LmImageDetail.Low ? "low"u8 : "high"u8);
                }

                w.WriteEndObject();
            }
            else
            {
                w.WriteString("type"u8, "text"u8);
                w.WriteString("text"u8, part.Text);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>An assistant turn's <c>tool_calls</c>; a tool turn's <c>tool_call_id</c>.</summary>
    private static void WriteToolTurnFields(Utf8JsonWriter w, LmChatTurn turn)
    {
        if (turn.ToolCalls is { } calls)
        {
            w.WriteStartArray("tool_calls"u8);
            foreach (var call in calls)
            {
                w.WriteStartObject();
                w.WriteString("id"u8, call.Id);
                w.WriteString("type"u8, "function"u8);
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, call.Name);
                w.WriteString("arguments"u8, call.Arguments);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (turn.ToolCallId is { } id)
        {
            w.WriteString("tool_call_id"u8, id);
        }
    }

    /// <summary><c>tools</c>, <c>tool_choice</c> and <c>response_format</c>, each only when the prompt sets it.</summary>
    private static void WriteTools(Utf8JsonWriter w, LmPrompt prompt)
    {
        if (prompt.Tools is { } tools)
        {
            w.WriteStartArray("tools"u8);
            foreach (var tool in tools)
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "function"u8);
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, tool.Name);
                if (tool.Description is { } description)
                {
                    w.WriteString("description"u8, description);
                }

                w.WritePropertyName("parameters"u8);
                tool.Parameters.WriteTo(w);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        switch (prompt.ToolChoice?.Mode)
        {
            case LmToolChoiceMode.Auto:
                w.WriteString("tool_choice"u8, "auto"u8);
                break;
            case LmToolChoiceMode.None:
                w.WriteString("tool_choice"u8, "none"u8);
                break;
            case LmToolChoiceMode.Required:
                w.WriteString("tool_choice"u8, "required"u8);
                break;
            case LmToolChoiceMode.Named:
                w.WriteStartObject("tool_choice"u8);
                w.WriteString("type"u8, "function"u8);
                w.WriteStartObject("function"u8);
                w.WriteString("name"u8, prompt.ToolChoice.ToolName);
                w.WriteEndObject();
                w.WriteEndObject();
                break;
        }

        if (prompt.ResponseFormat is { } format)
        {
            w.WriteStartObject("response_format"u8);
            if (format.Kind == LmResponseFormatKind.JsonObject)
            {
                w.WriteString("type"u8, "json_object"u8);
            }
            else
            {
                w.WriteString("type"u8, "json_schema"u8);
                w.WriteStartObject("json_schema"u8);
                w.WriteString("name"u8, format.Name);
                w.WritePropertyName("schema"u8);
                format.Schema.WriteTo(w);
                w.WriteBoolean("strict"u8, format.Strict);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }
    }

    /// <summary>For a streamed request: <c>stream: true</c> and the usage chunk at the end.</summary>
    private static void WriteStream(Utf8JsonWriter w, bool stream)
    {
        if (stream)
        {
            w.WriteBoolean("stream"u8, true);
            w.WriteStartObject("stream_options"u8);
            w.WriteBoolean("include_usage"u8, true);
            w.WriteEndObject();
        }
    }

    private static void WriteSampling(Utf8JsonWriter w, OpenAiModelInfo model, LmPrompt prompt, int n)
    {
        if (!model.IsReasoningModel)
        {
            // TopP 0 means greedy (as in the Python original): sent as temperature 0 with the default top_p.
            bool greedy = prompt.TopP == 0;
            w.WriteNumber("temperature"u8, greedy ? 0 : prompt.Temperature);
            w.WriteNumber("top_p"u8, greedy ? 1 : prompt.TopP);
            if (prompt.PresencePenalty != 0)
            {
                w.WriteNumber("presence_penalty"u8, prompt.PresencePenalty);
            }

            if (prompt.FrequencyPenalty != 0)
            {
                w.WriteNumber("frequency_penalty"u8, prompt.FrequencyPenalty);
            }
        }

        if (n != 1)
        {
            w.WriteNumber("n"u8, n);
        }

        if (prompt.Stop is { Count: > 0 } stop)
        {
            w.WriteStartArray("stop"u8);
            foreach (var s in stop)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
        }

        if (prompt.Seed is { } seed)
        {
            w.WriteNumber("seed"u8, seed);
        }
    }
}
