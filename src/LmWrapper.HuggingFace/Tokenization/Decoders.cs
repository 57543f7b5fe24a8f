using System.Text;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>A tokenizer.json decoder: turns token strings back into text pieces.</summary>
internal abstract class Decoder
{
    public abstract List<string> DecodeChain(List<string> tokens);

    public string Decode(List<string> tokens) => string.Concat(DecodeChain(tokens));

    public static Decoder? FromJson(JsonElement json)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string type = JsonUtil.Type(json, "decoder");
        return type switch
        {
            "Sequence" => new SequenceDecoder(json.GetProperty("decoders").EnumerateArray().Select(d => FromJson(d)).OfType<Decoder>().ToArray()),
            "ByteLevel" => new ByteLevelDecoder(),
            "Metaspace" => new MetaspaceDecoder(
                JsonUtil.String(json, "replacement", "\u2581"),
                (JsonUtil.OptionalString(json, "prepend_scheme") ?? (JsonUtil.Bool(json, "add_prefix_space", true) ? "always" : "never")) != "never"),
            "Replace" => new ReplaceDecoder(JsonUtil.Pattern(json, "Replace decoder"), JsonUtil.String(json, "content")),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(JsonUtil.String(json, "content"), JsonUtil.Int(json, "start", 0), JsonUtil.Int(json, "stop", 0)),
            _ => throw JsonUtil.Unsupported("decoder", type, "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip"),
        };
    }
}

internal sealed class SequenceDecoder(Decoder[] decoders) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var d in decoders)
        {
            tokens = d.DecodeChain(tokens);
        }

        return tokens;
    }
}

/// <summary>Byte-level chars back to bytes (a token with a non-byte char contributes its own UTF-8), then lossy UTF-8.</summary>
internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>(tokens.Count * 4);
        foreach (var token in tokens)
        {
            if (!ByteLevelTables.TryMapToBytes(token, bytes))
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
        }

        return [Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes))];
    }
}

internal sealed class MetaspaceDecoder(string replacement, bool stripFirst) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string r = tokens[i].Replace(replacement, i == 0 && stripFirst ? "" : " ", StringComparison.Ordinal);
            output.Add(r);
        }

        return output;
    }
}

internal sealed class ReplaceDecoder(TextPattern pattern, string content) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        foreach (var t in tokens)
        {
            output.Add(ReplaceNormalizer.Replace(new NormalizedString(t, null, null, false), pattern, content).Text);
        }

        return output;
    }
}

/// <summary>Runs of &lt;0xNN&gt; tokens become their UTF-8 text, or one U+FFFD per byte when invalid.</summary>
internal sealed class ByteFallbackDecoder : Decoder
{
    private static readonly UTF8Encoding Strict = new(false, true);

    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (var token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
            {
                pending.Add(b);
                continue;
            }

            Flush(pending, output);
            output.Add(token);
        }

        Flush(pending, output);
        return output;
    }

    private static void Flush(List<byte> pending, List<string> output)
    {
        if (pending.Count == 0)
        {
            return;
        }

        try
        {
            output.Add(Strict.GetString(pending.ToArray()));
        }
        catch (DecoderFallbackException)
        {
            for (int i = 0; i < pending.Count; i++)
            {
                output.Add("\uFFFD");
            }
        }

        pending.Clear();
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of a char from each token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        foreach (var t in tokens)
        {
            int s = 0;
            int taken = 0;
            while (content.Length > 0 && taken < start && t.AsSpan(s).StartsWith(content, StringComparison.Ordinal))
            {
                s += content.Length;
                taken++;
            }

            int e = t.Length;
            int removed = 0;
            while (removed < stop && e - content.Length >= s && content.Length > 0 && t.AsSpan(0, e).EndsWith(content, StringComparison.Ordinal))
            {
                e -= content.Length;
                removed++;
            }

            output.Add(t[s..e]);
        }

        return output;
    }
}
