using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>An encoding being built: ids, token strings and original offsets (parallel lists).</summary>
internal sealed class EncodingBuilder(bool track)
{
    public List<int> Ids { get; } = new();

    public List<(int Start, int End)>? Offsets { get; } = track ? new() : null;

    public void Add(int id, int start, int end)
    {
        Ids.Add(id);
        Offsets?.Add((start, end));
    }
}

/// <summary>A tokenizer.json post-processor: adds special tokens and adjusts offsets.</summary>
internal abstract class PostProcessor
{
    /// <summary>Applies the processor to a single sequence.</summary>
    public abstract void Process(EncodingBuilder encoding, bool addSpecialTokens, Func<int, string?> idToToken);

    public static PostProcessor? FromJson(JsonElement json, Func<string, int?> tokenToId)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string type = JsonUtil.Type(json, "post_processor");
        switch (type)
        {
            case "Sequence":
                return new SequencePostProcessor(json.GetProperty("processors").EnumerateArray().Select(p => FromJson(p, tokenToId)).OfType<PostProcessor>().ToArray());
            case "ByteLevel":
                return new ByteLevelPostProcessor(JsonUtil.Bool(json, "trim_offsets", true), JsonUtil.Bool(json, "add_prefix_space", true));
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (json.TryGetProperty("special_tokens", out var st) && st.ValueKind == JsonValueKind.Object)
                {
                    foreach (var entry in st.EnumerateObject())
                    {
                        specials[entry.Name] = entry.Value.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray();
                    }
                }

                var items = new List<int[]?>(); // null stands for the sequence $A
                foreach (var piece in json.GetProperty("single").EnumerateArray())
                {
                    if (piece.TryGetProperty("SpecialToken", out var special))
                    {
                        string id = JsonUtil.String(special, "id");
                        items.Add(specials.TryGetValue(id, out var ids) ? ids
                            : throw new FormatException($"tokenizer.json TemplateProcessing: the special token '{id}' has no entry in special_tokens."));
                    }
                    else if (piece.TryGetProperty("Sequence", out var seq))
                    {
                        if (JsonUtil.String(seq, "id") != "A")
                        {
                            throw new FormatException("tokenizer.json TemplateProcessing: the single template may only use sequence $A.");
                        }

                        items.Add(null);
                    }
                    else
                    {
                        throw new FormatException($"tokenizer.json TemplateProcessing: unknown template piece {piece.GetRawText()}.");
                    }
                }

                return new TemplatePostProcessor(items.ToArray());
            }

            case "RobertaProcessing":
            case "BertProcessing":
            {
                int sep = json.GetProperty("sep")[1].GetInt32();
                int cls = json.GetProperty("cls")[1].GetInt32();
                PostProcessor template = new TemplatePostProcessor([[cls], null, [sep]]);
                if (type == "RobertaProcessing" && JsonUtil.Bool(json, "trim_offsets", true))
                {
                    return new SequencePostProcessor([new ByteLevelPostProcessor(true, JsonUtil.Bool(json, "add_prefix_space", true)), template]);
                }

                return template;
            }

            default:
                throw JsonUtil.Unsupported("post_processor", type, "Sequence, ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing");
        }
    }
}

internal sealed class SequencePostProcessor(PostProcessor[] processors) : PostProcessor
{
    public override void Process(EncodingBuilder encoding, bool addSpecialTokens, Func<int, string?> idToToken)
    {
        foreach (var p in processors)
        {
            p.Process(encoding, addSpecialTokens, idToToken);
        }
    }
}

/// <summary>Adds special tokens around the sequence as a template says (single-sequence form); they get empty offsets.</summary>
internal sealed class TemplatePostProcessor(int[]?[] items) : PostProcessor
{
    public static TemplatePostProcessor ForBosEos(int? bos, int? eos)
    {
        var items = new List<int[]?>();
        if (bos is int b)
        {
            items.Add([b]);
        }

        items.Add(null);
        if (eos is int e)
        {
            items.Add([e]);
        }

        return new TemplatePostProcessor(items.ToArray());
    }

    public override void Process(EncodingBuilder encoding, bool addSpecialTokens, Func<int, string?> idToToken)
    {
        if (!addSpecialTokens)
        {
            return;
        }

        var ids = new List<int>(encoding.Ids);
        var offsets = encoding.Offsets is null ? null : new List<(int, int)>(encoding.Offsets);
        encoding.Ids.Clear();
        encoding.Offsets?.Clear();
        foreach (var item in items)
        {
            if (item is null)
            {
                encoding.Ids.AddRange(ids);
                if (offsets is not null)
                {
                    encoding.Offsets!.AddRange(offsets);
                }
            }
            else
            {
                foreach (int id in item)
                {
                    encoding.Add(id, 0, 0);
                }
            }
        }
    }
}

/// <summary>ByteLevel as a post-processor only trims the spaces (Ġ) out of token offsets when asked.</summary>
internal sealed class ByteLevelPostProcessor(bool trimOffsets, bool addPrefixSpace) : PostProcessor
{
    public override void Process(EncodingBuilder encoding, bool addSpecialTokens, Func<int, string?> idToToken)
    {
        if (!trimOffsets || encoding.Offsets is null)
        {
            return;
        }

        for (int i = 0; i < encoding.Ids.Count; i++)
        {
            string? token = idToToken(encoding.Ids[i]);
            if (token is null)
            {
                continue;
            }

            int leading = 0;
            while (leading < token.Length && token[leading] == '\u0120')
            {
                leading++;
            }

            int trailing = 0;
            while (trailing < token.Length - leading && token[token.Length - 1 - trailing] == '\u0120')
            {
                trailing++;
            }

            var (s, e) = encoding.Offsets[i];
            if (leading > 0)
            {
                bool isFirst = i == 0 || s == 0;
                if (!(isFirst && addPrefixSpace && leading == 1))
                {
                    s = Math.Min(s + leading, e);
                }
            }

            if (trailing > 0 && e >= trailing)
            {
                e = Math.Max(e - trailing, s);
            }

            encoding.Offsets[i] = (s, e);
        }
    }
}
