using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>A tokenizer.json normalizer.</summary>
internal abstract class Normalizer
{
    public abstract NormalizedString Normalize(NormalizedString input);

    /// <summary>Normalizes a plain string (used for added tokens' normalized forms).</summary>
    public string Normalize(string text) => Normalize(new NormalizedString(text, null, null, true)).Text;

    public static Normalizer? FromJson(JsonElement json)
    {
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string type = JsonUtil.Type(json, "normalizer");
        return type switch
        {
            "Sequence" => new SequenceNormalizer(json.GetProperty("normalizers").EnumerateArray().Select(n => FromJson(n)).OfType<Normalizer>().ToArray()),
            "NFC" => new UnicodeNormalizer(UnicodeForm.Nfc),
            "NFD" => new UnicodeNormalizer(UnicodeForm.Nfd),
            "NFKC" => new UnicodeNormalizer(UnicodeForm.Nfkc),
            "NFKD" => new UnicodeNormalizer(UnicodeForm.Nfkd),
            "Lowercase" => new LowercaseNormalizer(),
            "Replace" => new ReplaceNormalizer(JsonUtil.Pattern(json, "Replace normalizer"), JsonUtil.String(json, "content")),
            "Prepend" => new PrependNormalizer(JsonUtil.String(json, "prepend")),
            "Append" => new AppendNormalizer(JsonUtil.String(json, "append")),
            "Strip" => new StripNormalizer(JsonUtil.Bool(json, "strip_left", true), JsonUtil.Bool(json, "strip_right", true)),
            "StripAccents" => new StripAccentsNormalizer(),
            _ => throw JsonUtil.Unsupported("normalizer", type, "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Append, Strip, StripAccents"),
        };
    }
}

internal sealed class SequenceNormalizer(Normalizer[] normalizers) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        foreach (var n in normalizers)
        {
            input = n.Normalize(input);
        }

        return input;
    }
}

internal sealed class UnicodeNormalizer(UnicodeForm form) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input) => UnicodeNormalization.Normalize(input, form);
}

/// <summary>Rust's <c>char::to_lowercase</c> per code point (full mappings: U+0130 becomes "i\u0307"; no final-sigma rule).</summary>
internal sealed class LowercaseNormalizer : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        string s = input.Text;
        var builder = new NormalizedBuilder(s.Length + 4, input.Tracking);
        Span<char> buffer = stackalloc char[2];
        for (int i = 0; i < s.Length;)
        {
            int len = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            var (os, oe) = input.OriginalRange(i, i + len);
            if (s[i] == '\u0130')
            {
                builder.Append('i', os, oe);
                builder.Append('\u0307', os, oe);
            }
            else if (len == 1)
            {
                builder.Append(char.ToLowerInvariant(s[i]), os, oe);
            }
            else
            {
                var rune = Rune.ToLowerInvariant(new Rune(s[i], s[i + 1]));
                int written = rune.EncodeToUtf16(buffer);
                builder.Append(buffer[..written], os, oe);
            }

            i += len;
        }

        return builder.Build(input.AtOriginalStart);
    }
}

internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input) => Replace(input, pattern, content);

    public static NormalizedString Replace(NormalizedString input, TextPattern pattern, string content)
    {
        var matches = new List<(int Start, int End)>();
        pattern.FindMatches(input.Text, matches);
        if (matches.Count == 0)
        {
            return input;
        }

        var builder = new NormalizedBuilder(input.Length + 8, input.Tracking);
        int prev = 0;
        foreach (var (start, end) in matches)
        {
            builder.Copy(input, prev, start);
            var (os, oe) = input.OriginalRange(start, end);
            builder.Append(content, os, oe);
            prev = end;
        }

        builder.Copy(input, prev, input.Length);
        return builder.Build(input.AtOriginalStart);
    }
}

internal sealed class PrependNormalizer(string prepend) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        if (input.Length == 0)
        {
            return input;
        }

        var builder = new NormalizedBuilder(input.Length + prepend.Length, input.Tracking);
        var (os, _) = input.OriginalRange(0, 1);
        builder.Append(prepend, os, os);
        builder.Copy(input, 0, input.Length);
        return builder.Build(input.AtOriginalStart);
    }
}

internal sealed class AppendNormalizer(string append) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        if (input.Length == 0)
        {
            return input;
        }

        var builder = new NormalizedBuilder(input.Length + append.Length, input.Tracking);
        builder.Copy(input, 0, input.Length);
        var (_, oe) = input.OriginalRange(input.Length - 1, input.Length);
        builder.Append(append, oe, oe);
        return builder.Build(input.AtOriginalStart);
    }
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        string s = input.Text;
        int start = 0, end = s.Length;
        if (left)
        {
            while (start < end && char.IsWhiteSpace(s[start]))
            {
                start++;
            }
        }

        if (right)
        {
            while (end > start && char.IsWhiteSpace(s[end - 1]))
            {
                end--;
            }
        }

        return input.Slice(start, end);
    }
}

/// <summary>Removes nonspacing marks (Mn), as Hugging Face's StripAccents does (usually after NFD).</summary>
internal sealed class StripAccentsNormalizer : Normalizer
{
    public override NormalizedString Normalize(NormalizedString input)
    {
        string s = input.Text;
        var builder = new NormalizedBuilder(s.Length, input.Tracking);
        for (int i = 0; i < s.Length;)
        {
            int len = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            int cp = len == 2 ? char.ConvertToUtf32(s[i], s[i + 1]) : s[i];
            if (CharUnicodeInfo.GetUnicodeCategory(cp) != UnicodeCategory.NonSpacingMark)
            {
                builder.Copy(input, i, i + len);
            }

            i += len;
        }

        return builder.Build(input.AtOriginalStart);
    }
}
