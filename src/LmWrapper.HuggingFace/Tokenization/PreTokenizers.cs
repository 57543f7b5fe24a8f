using System.Globalization;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>A range [Start, End) of a piece of normalized text: one pre-token ("word") once pre-tokenization is done.</summary>
internal readonly record struct TextSplit(NormalizedString Source, int Start, int End)
{
    public ReadOnlySpan<char> Span => Source.Text.AsSpan(Start, End - Start);

    public int Length => End - Start;

    /// <summary>This range as a piece of its own (copies the text).</summary>
    public NormalizedString Materialize() => Source.Slice(Start, End);
}

/// <summary>What a split does with the delimiters it finds (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>A tokenizer.json pre-tokenizer: turns pieces of normalized text into smaller pieces.</summary>
internal abstract class PreTokenizer
{
    public abstract void PreTokenize(List<TextSplit> input, List<TextSplit> output);

    /// <summary>Whether this pre-tokenizer leaves its input as it is (e.g. ByteLevel without prefix space or regex).</summary>
    public virtual bool IsIdentity => false;

    /// <summary>
    /// When this pre-tokenizer is exactly "split by a pattern that covers the text, Isolated", that
    /// pattern: the encoder then streams its matches straight to the model (no intermediate lists).
    /// </summary>
    public virtual TextPattern? StreamingPattern => null;

    /// <summary>
    /// Parses a pre-tokenizer; <paramref name="byteLevel"/> says whether words must be fed to the model
    /// as GPT-2 byte chars. <paramref name="addPrefixSpaceOverride"/> replaces a top-level ByteLevel's add_prefix_space.
    /// </summary>
    public static PreTokenizer? FromJson(JsonElement json, out bool byteLevel, bool? addPrefixSpaceOverride = null)
    {
        byteLevel = false;
        if (json.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string type = JsonUtil.Type(json, "pre_tokenizer");
        switch (type)
        {
            case "Sequence":
            {
                var items = new List<PreTokenizer>();
                var list = json.GetProperty("pretokenizers").EnumerateArray().ToList();
                for (int i = 0; i < list.Count; i++)
                {
                    var p = FromJson(list[i], out bool inner);
                    if (byteLevel)
                    {
                        throw new NotSupportedException(
                            $"tokenizer.json pre_tokenizer: a '{JsonUtil.Type(list[i], "pre_tokenizer")}' after ByteLevel in a Sequence is not supported by LmWrapper's HuggingFaceTokenizer (it would see byte-level chars).");
                    }

                    byteLevel |= inner;
                    if (p is not null)
                    {
                        items.Add(p);
                    }
                }

                return new SequencePreTokenizer(items.ToArray());
            }

            case "ByteLevel":
                byteLevel = true;
                return new ByteLevelPreTokenizer(addPrefixSpaceOverride ?? JsonUtil.Bool(json, "add_prefix_space", true), JsonUtil.Bool(json, "use_regex", true));
            case "Split":
                return new SplitPreTokenizer(
                    JsonUtil.Pattern(json, "Split pre_tokenizer"),
                    ParseBehavior(JsonUtil.String(json, "behavior", "Isolated")),
                    JsonUtil.Bool(json, "invert", false));
            case "Metaspace":
            {
                string replacement = JsonUtil.String(json, "replacement", "\u2581");
                string scheme = JsonUtil.OptionalString(json, "prepend_scheme")
                    ?? (JsonUtil.Bool(json, "add_prefix_space", true) ? "always" : "never");
                if (scheme is not ("always" or "never" or "first"))
                {
                    throw JsonUtil.Unsupported("Metaspace prepend_scheme", scheme, "always, never, first");
                }

                return new MetaspacePreTokenizer(replacement, scheme, JsonUtil.Bool(json, "split", true));
            }

            case "Digits":
                return new PatternPreTokenizer(new CodePointPattern(cp => CharClass.OfCodePoint(cp) == CharClass.Number),
                    JsonUtil.Bool(json, "individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous, false);
            case "Whitespace":
                return new PatternPreTokenizer(new DotNetRegexPattern(@"\w+|[^\w\s]+", "Whitespace pre_tokenizer"), SplitBehavior.Removed, true);
            case "WhitespaceSplit":
                return new PatternPreTokenizer(new CodePointPattern(IsWhiteSpace), SplitBehavior.Removed, false);
            case "Punctuation":
                return new PatternPreTokenizer(new CodePointPattern(IsPunctuation), ParseBehavior(JsonUtil.String(json, "behavior", "Isolated")), false);
            case "BertPreTokenizer":
                return new SequencePreTokenizer([
                    new PatternPreTokenizer(new CodePointPattern(IsWhiteSpace), SplitBehavior.Removed, false),
                    new PatternPreTokenizer(new CodePointPattern(IsPunctuation), SplitBehavior.Isolated, false),
                ]);
            default:
                throw JsonUtil.Unsupported("pre_tokenizer", type, "Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer");
        }
    }

    private static bool IsWhiteSpace(int cp) => cp < 65536 && char.IsWhiteSpace((char)cp);

    private static bool IsPunctuation(int cp)
    {
        if (cp < 128)
        {
            return char.IsAsciiLetterOrDigit((char)cp) is false && cp > 32 && cp < 127;
        }

        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    public static SplitBehavior ParseBehavior(string name) => name switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw JsonUtil.Unsupported("split behavior", name, "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"),
    };

    /// <summary>Splits one range by a pattern with Hugging Face's delimiter behaviours; appends the non-empty results.</summary>
    public static void SplitBy(TextSplit split, TextPattern pattern, SplitBehavior behavior, bool invert, List<TextSplit> output, List<(int Start, int End)> scratch)
    {
        scratch.Clear();
        var text = split.Span;
        pattern.FindMatches(text, scratch);

        // Isolated with a full cover of matches (the common case of the split regexes) needs no bookkeeping.
        if (behavior == SplitBehavior.Isolated)
        {
            int prev = 0;
            foreach (var (s, e) in scratch)
            {
                if (prev != s)
                {
                    output.Add(new TextSplit(split.Source, split.Start + prev, split.Start + s));
                }

                if (e > s)
                {
                    output.Add(new TextSplit(split.Source, split.Start + s, split.Start + e));
                }

                prev = e;
            }

            if (prev != text.Length)
            {
                output.Add(new TextSplit(split.Source, split.Start + prev, split.Start + text.Length));
            }

            return;
        }

        // All segments with their match flag (find_matches), inverted when asked.
        var segments = new List<(int Start, int End, bool IsMatch)>(scratch.Count * 2 + 1);
        if (text.Length == 0)
        {
            segments.Add((0, 0, false));
        }
        else
        {
            int prev = 0;
            foreach (var (s, e) in scratch)
            {
                if (prev != s)
                {
                    segments.Add((prev, s, false));
                }

                segments.Add((s, e, true));
                prev = e;
            }

            if (prev != text.Length)
            {
                segments.Add((prev, text.Length, false));
            }
        }

        if (invert)
        {
            for (int i = 0; i < segments.Count; i++)
            {
                segments[i] = (segments[i].Start, segments[i].End, !segments[i].IsMatch);
            }
        }

        var result = new List<(int Start, int End, bool Remove)>(segments.Count);
        switch (behavior)
        {
            case SplitBehavior.Removed:
                foreach (var seg in segments)
                {
                    result.Add((seg.Start, seg.End, seg.IsMatch));
                }

                break;
            case SplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach (var seg in segments)
                {
                    if (seg.IsMatch == previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, seg.End, false);
                    }
                    else
                    {
                        result.Add((seg.Start, seg.End, false));
                    }

                    previousMatch = seg.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach (var seg in segments)
                {
                    if (seg.IsMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (result[^1].Start, seg.End, false);
                    }
                    else
                    {
                        result.Add((seg.Start, seg.End, false));
                    }

                    previousMatch = seg.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                bool previousMatch = false;
                for (int i = segments.Count - 1; i >= 0; i--)
                {
                    var seg = segments[i];
                    if (seg.IsMatch && !previousMatch && result.Count > 0)
                    {
                        result[^1] = (seg.Start, result[^1].End, false);
                    }
                    else
                    {
                        result.Add((seg.Start, seg.End, false));
                    }

                    previousMatch = seg.IsMatch;
                }

                result.Reverse();
                break;
            }
        }

        foreach (var (s, e, remove) in result)
        {
            if (!remove && e > s)
            {
                output.Add(new TextSplit(split.Source, split.Start + s, split.Start + e));
            }
        }
    }
}

internal sealed class SequencePreTokenizer(PreTokenizer[] items) : PreTokenizer
{
    public override bool IsIdentity => items.All(i => i.IsIdentity);

    public override TextPattern? StreamingPattern
    {
        get
        {
            var rest = items.Where(i => !i.IsIdentity).ToArray();
            return rest.Length == 1 ? rest[0].StreamingPattern : null;
        }
    }

    public override void PreTokenize(List<TextSplit> input, List<TextSplit> output)
    {
        if (items.Length == 0)
        {
            output.AddRange(input);
            return;
        }

        var current = input;
        for (int i = 0; i < items.Length; i++)
        {
            var next = i == items.Length - 1 ? output : new List<TextSplit>(current.Count * 2);
            items[i].PreTokenize(current, next);
            current = next;
        }
    }
}

internal sealed class PatternPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    public override void PreTokenize(List<TextSplit> input, List<TextSplit> output)
    {
        var scratch = new List<(int Start, int End)>();
        foreach (var split in input)
        {
            SplitBy(split, pattern, behavior, invert, output, scratch);
        }
    }
}

internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    private readonly PatternPreTokenizer _inner = new(pattern, behavior, invert);

    public override TextPattern? StreamingPattern => behavior == SplitBehavior.Isolated && !invert && pattern.CoversText ? pattern : null;

    public override void PreTokenize(List<TextSplit> input, List<TextSplit> output) => _inner.PreTokenize(input, output);
}

/// <summary>
/// ByteLevel: optionally a leading space, optionally GPT-2's split regex. The byte-to-char mapping
/// itself is applied when words are handed to the model (see <see cref="BpeModel"/>).
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public override bool IsIdentity => !addPrefixSpace && !useRegex;

    public override TextPattern? StreamingPattern => !addPrefixSpace && useRegex ? Gpt2Pattern.Instance : null;

    public override void PreTokenize(List<TextSplit> input, List<TextSplit> output)
    {
        var scratch = new List<(int Start, int End)>();
        foreach (var original in input)
        {
            var split = original;
            if (addPrefixSpace && (split.Length == 0 || split.Span[0] != ' '))
            {
                var piece = split.Materialize();
                var builder = new NormalizedBuilder(piece.Length + 1, piece.Tracking);
                var (os, _) = piece.OriginalRange(0, Math.Min(1, piece.Length));
                builder.Append(' ', os, os);
                builder.Copy(piece, 0, piece.Length);
                var prefixed = builder.Build(piece.AtOriginalStart);
                split = new TextSplit(prefixed, 0, prefixed.Length);
            }

            if (useRegex)
            {
                SplitBy(split, Gpt2Pattern.Instance, SplitBehavior.Isolated, false, output, scratch);
            }
            else if (split.Length > 0)
            {
                output.Add(split);
            }
        }
    }
}

/// <summary>Metaspace: spaces become the replacement char (▁), a ▁ is prepended per the scheme, then optional split before each ▁.</summary>
internal sealed class MetaspacePreTokenizer(string replacement, string prependScheme, bool split) : PreTokenizer
{
    private readonly LiteralPattern _space = new(" ");
    private readonly LiteralPattern _replacement = new(replacement);

    public override void PreTokenize(List<TextSplit> input, List<TextSplit> output)
    {
        var scratch = new List<(int Start, int End)>();
        foreach (var s in input)
        {
            bool atStart = s.Source.AtOriginalStart && s.Start == 0;
            var piece = ReplaceNormalizer.Replace(s.Materialize(), _space, replacement);
            bool prepend = prependScheme == "always" || (prependScheme == "first" && atStart);
            if (prepend && !piece.Text.StartsWith(replacement, StringComparison.Ordinal))
            {
                var builder = new NormalizedBuilder(piece.Length + 1, piece.Tracking);
                var (os, _) = piece.OriginalRange(0, Math.Min(1, piece.Length));
                builder.Append(replacement, os, os);
                builder.Copy(piece, 0, piece.Length);
                piece = builder.Build(piece.AtOriginalStart);
            }

            var whole = new TextSplit(piece, 0, piece.Length);
            if (split)
            {
                SplitBy(whole, _replacement, SplitBehavior.MergedWithNext, false, output, scratch);
            }
            else if (whole.Length > 0)
            {
                output.Add(whole);
            }
        }
    }
}
