using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>Something that finds non-overlapping matches in text, left to right (Hugging Face's Pattern).</summary>
internal abstract class TextPattern
{
    /// <summary>Appends the [start, end) of every match in <paramref name="text"/> (empty matches allowed).</summary>
    public abstract void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches);

    /// <summary>
    /// Whether the matches always cover the text end to end with non-empty matches, so a split
    /// by this pattern (Isolated) is just its matches and <see cref="MatchAt"/> can stream them.
    /// </summary>
    public virtual bool CoversText => false;

    /// <summary>For a <see cref="CoversText"/> pattern: where the match starting at <paramref name="i"/> ends.</summary>
    public virtual int MatchAt(ReadOnlySpan<char> text, int i) => throw new NotSupportedException();

    /// <summary>
    /// Builds the matcher for a Hugging Face regex (Oniguruma syntax). The split patterns of GPT-2,
    /// Llama-3 and Qwen2/3 get hand-written code-point matchers (exact and fast); anything else is
    /// translated to a .NET <see cref="Regex"/>.
    /// </summary>
    public static TextPattern FromRegex(string pattern, string component)
    {
        if (pattern == Gpt2Pattern.Source)
        {
            return Gpt2Pattern.Instance;
        }

        if (pattern == Llama3Pattern.Llama3Source)
        {
            return new Llama3Pattern(3);
        }

        if (pattern == Llama3Pattern.QwenSource)
        {
            return new Llama3Pattern(1);
        }

        return new DotNetRegexPattern(pattern, component);
    }
}

/// <summary>
/// Words of SentencePiece-style text: a cut before each ▁ that follows another char (runs of ▁
/// stay with the word they precede). Only used where the vocabulary makes the cut exact
/// (see <see cref="BpeModel.CanSplitBeforeMetaspace"/>).
/// </summary>
internal sealed class MetaspaceWordPattern : TextPattern
{
    public static readonly MetaspaceWordPattern Instance = new();

    public override bool CoversText => true;

    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        for (int i = 0; i < text.Length;)
        {
            int end = MatchAt(text, i);
            matches.Add((i, end));
            i = end;
        }
    }

    public override int MatchAt(ReadOnlySpan<char> text, int i)
    {
        int j = i + 1;
        while (j < text.Length)
        {
            int k = text[j..].IndexOf('\u2581');
            if (k < 0)
            {
                return text.Length;
            }

            j += k;
            if (text[j - 1] != '\u2581')
            {
                return j;
            }

            j++;
        }

        return text.Length;
    }
}

/// <summary>Every occurrence of a literal string.</summary>
internal sealed class LiteralPattern(string literal) : TextPattern
{
    public string Literal { get; } = literal;

    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        if (Literal.Length == 0)
        {
            return;
        }

        int i = 0;
        while (i <= text.Length - Literal.Length)
        {
            int k = text[i..].IndexOf(Literal.AsSpan(), StringComparison.Ordinal);
            if (k < 0)
            {
                break;
            }

            matches.Add((i + k, i + k + Literal.Length));
            i += k + Literal.Length;
        }
    }
}

/// <summary>Each code point satisfying a predicate is one match (Hugging Face's <c>Fn(char) -> bool</c> pattern).</summary>
internal sealed class CodePointPattern(Func<int, bool> predicate) : TextPattern
{
    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        for (int i = 0; i < text.Length;)
        {
            int len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            int cp = len == 2 ? char.ConvertToUtf32(text[i], text[i + 1]) : text[i];
            if (predicate(cp))
            {
                matches.Add((i, i + len));
            }

            i += len;
        }
    }
}

/// <summary>
/// GPT-2's pre-tokenizer regex, by hand:
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>.
/// </summary>
internal sealed class Gpt2Pattern : TextPattern
{
    public const string Source = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static readonly Gpt2Pattern Instance = new();

    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            matches.Add((i, end));
            i = end;
        }
    }

    public override bool CoversText => true;

    public override int MatchAt(ReadOnlySpan<char> s, int i)
    {
        int n = s.Length;
        char c = s[i];
        if (c == '\'' && i + 1 < n)
        {
            char c1 = s[i + 1];
            if (c1 is 's' or 't' or 'm' or 'd')
            {
                return i + 2;
            }

            if (i + 2 < n)
            {
                char c2 = s[i + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                {
                    return i + 3;
                }
            }
        }

        int j = c == ' ' ? i + 1 : i;
        if (j < n)
        {
            byte cls = CharClass.At(s, j, out int len);
            if (cls != CharClass.Space && (cls & CharClass.Space) == 0)
            {
                // ' ?\p{L}+', ' ?\p{N}+' or ' ?[^\s\p{L}\p{N}]+': a run of the same class.
                j += len;
                while (j < n && CharClass.At(s, j, out len) == cls)
                {
                    j += len;
                }

                return j;
            }
        }

        // \s+(?!\S) | \s+ (c is white space here)
        int e = i + 1;
        while (e < n && (CharClass.OfChar(s[e]) & CharClass.Space) != 0)
        {
            e++;
        }

        if (e == n || e - i < 2)
        {
            return e;
        }

        return e - 1;
    }
}

/// <summary>
/// The Llama-3 / Qwen2 split regex, by hand:
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c>
/// (Qwen has <c>\p{N}</c> where Llama-3 has <c>\p{N}{1,3}</c>).
/// </summary>
internal sealed class Llama3Pattern(int maxDigits) : TextPattern
{
    public const string Llama3Source = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string QwenSource = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            matches.Add((i, end));
            i = end;
        }
    }

    // Case-insensitive as Oniguruma folds: 's' also matches 'S' and U+017F (long s).
    private static bool IsS(char c) => c is 's' or 'S' or '\u017F';

    public override bool CoversText => true;

    public override int MatchAt(ReadOnlySpan<char> s, int i)
    {
        int n = s.Length;
        char c = s[i];
        if (c == '\'' && i + 1 < n)
        {
            char c1 = s[i + 1];
            if (IsS(c1) || c1 is 't' or 'T' or 'm' or 'M' or 'd' or 'D')
            {
                return i + 2;
            }

            if (i + 2 < n)
            {
                char a = char.ToLowerInvariant(c1), b = char.ToLowerInvariant(s[i + 2]);
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                {
                    return i + 3;
                }
            }
        }

        byte cls = CharClass.At(s, i, out int len);

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (cls == CharClass.Letter)
        {
            return LetterRun(s, i + len);
        }

        if ((cls & (CharClass.NewLine | CharClass.Number)) == 0 && i + len < n && CharClass.At(s, i + len, out int len2) == CharClass.Letter)
        {
            return LetterRun(s, i + len + len2);
        }

        // \p{N}{1,maxDigits}
        if (cls == CharClass.Number)
        {
            int j = i + len;
            for (int k = 1; k < maxDigits && j < n && CharClass.At(s, j, out int l) == CharClass.Number; k++)
            {
                j += l;
            }

            return j;
        }

        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        {
            int j = i;
            byte k = cls;
            int kl = len;
            if (c == ' ' && i + 1 < n)
            {
                j = i + 1;
                k = CharClass.At(s, j, out kl);
            }

            if (k == CharClass.Other)
            {
                j += kl;
                while (j < n && CharClass.At(s, j, out kl) == CharClass.Other)
                {
                    j += kl;
                }

                while (j < n && s[j] is '\r' or '\n')
                {
                    j++;
                }

                return j;
            }
        }

        // c is white space here: \s*[\r\n]+ | \s+(?!\S) | \s+
        int e = i;
        int lastNewLine = -1;
        while (e < n)
        {
            byte k = CharClass.OfChar(s[e]);
            if ((k & CharClass.Space) == 0)
            {
                break;
            }

            if ((k & CharClass.NewLine) != 0)
            {
                lastNewLine = e;
            }

            e++;
        }

        if (lastNewLine >= 0)
        {
            return lastNewLine + 1;
        }

        if (e == n || e - i < 2)
        {
            return e;
        }

        return e - 1;
    }

    private static int LetterRun(ReadOnlySpan<char> s, int j)
    {
        while (j < s.Length && CharClass.At(s, j, out int l) == CharClass.Letter)
        {
            j += l;
        }

        return j;
    }
}

/// <summary>
/// Any other Hugging Face (Oniguruma) regex, translated to .NET. Text holding code points outside
/// the BMP is matched on a stand-in string with one char per code point (each stand-in of the same
/// Unicode category), so \p{L}, \p{N}, quantifiers and lookarounds see code points as Oniguruma does.
/// </summary>
internal sealed class DotNetRegexPattern : TextPattern
{
    private static readonly Dictionary<UnicodeCategory, char> StandIns = BuildStandIns();
    private readonly Regex _regex;

    public DotNetRegexPattern(string pattern, string component)
    {
        Source = pattern;
        if (pattern.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0)
        {
            // .NET matches UTF-16 units, so a class like [𐐀-𐑏] would silently mean something else.
            throw new NotSupportedException($"{component}: the regex /{pattern}/ names characters outside the BMP, which this tokenizer's .NET regex path cannot match exactly.");
        }

        string translated = RegexTranslator.Translate(pattern, component);
        try
        {
            _regex = new Regex(translated, RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.Multiline);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException($"{component}: the regex /{pattern}/ uses syntax this tokenizer cannot translate to .NET ({e.Message}).", e);
        }
    }

    public string Source { get; }

    private static Dictionary<UnicodeCategory, char> BuildStandIns()
    {
        // For each category the highest BMP code point outside the private-use area: obscure
        // characters that real split patterns never name.
        var map = new Dictionary<UnicodeCategory, char>();
        for (int c = 0xFFFD; c >= 0x100; c--)
        {
            if (char.IsSurrogate((char)c) || (c >= 0xE000 && c <= 0xF8FF))
            {
                continue;
            }

            var cat = CharUnicodeInfo.GetUnicodeCategory((char)c);
            map.TryAdd(cat, (char)c);
        }

        map[UnicodeCategory.PrivateUse] = '\uE000';
        return map;
    }

    public override void FindMatches(ReadOnlySpan<char> text, List<(int Start, int End)> matches)
    {
        int firstSurrogate = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (firstSurrogate < 0)
        {
            foreach (var m in _regex.EnumerateMatches(text))
            {
                matches.Add((m.Index, m.Index + m.Length));
            }

            return;
        }

        // Stand-in string: one char per code point, and where each one starts in the real text.
        var sb = new StringBuilder(text.Length);
        var starts = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            starts.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(text[i], text[i + 1]);
                sb.Append(StandIns.TryGetValue(CharUnicodeInfo.GetUnicodeCategory(cp), out char standIn) ? standIn : '\uFFFD');
                i += 2;
            }
            else
            {
                sb.Append(text[i]);
                i++;
            }
        }

        starts.Add(text.Length);
        foreach (var m in _regex.EnumerateMatches(sb.ToString()))
        {
            matches.Add((starts[m.Index], starts[m.Index + m.Length]));
        }
    }
}

/// <summary>Translates Oniguruma (Ruby syntax) regexes as Hugging Face uses them into .NET syntax.</summary>
internal static class RegexTranslator
{
    // Oniguruma's Unicode \w: Alphabetic (letters, letter numbers, circled letters, …), marks,
    // decimal digits and connector punctuation; outside a class it also takes ²³¹¼½¾.
    private const string WordChars = @"\p{L}\p{M}\p{Nl}\p{Nd}\p{Pc}\u24B6-\u24E9";
    private const string Latin1WordQuirks = @"\u00B2\u00B3\u00B9\u00BC-\u00BE";

    /// <summary>
    /// Rewrites possessive quantifiers (<c>X*+</c>, <c>X++</c>, <c>X?+</c>, <c>X{n,m}+</c>) as atomic
    /// groups, <c>\w</c>/<c>\W</c> to Unicode's word set (Oniguruma's includes all marks), <c>\h</c>
    /// to hex digits (Oniguruma's meaning), and rejects constructs .NET reads differently.
    /// </summary>
    public static string Translate(string pattern, string component)
    {
        var output = new StringBuilder(pattern.Length + 16);
        int lastAtomStart = -1;
        var groupStarts = new Stack<int>();
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '\\':
                {
                    if (i + 1 >= pattern.Length)
                    {
                        throw new NotSupportedException($"{component}: the regex /{pattern}/ ends with a lone backslash.");
                    }

                    lastAtomStart = output.Length;
                    char e = pattern[i + 1];
                    switch (e)
                    {
                        case 'w':
                            output.Append('[').Append(WordChars).Append(Latin1WordQuirks).Append(']');
                            i++;
                            break;
                        case 'W':
                            output.Append("[^").Append(WordChars).Append(Latin1WordQuirks).Append(']');
                            i++;
                            break;
                        case 'h':
                            output.Append("[0-9a-fA-F]");
                            i++;
                            break;
                        case 'H':
                            output.Append("[^0-9a-fA-F]");
                            i++;
                            break;
                        case 'A' or 'z' or 'Z' or 'b' or 'B' or 'G':
                            output.Append(c).Append(e);
                            i++;
                            break;
                        case 'p' or 'P':
                        {
                            int close = pattern.IndexOf('}', i);
                            if (close < 0 || i + 2 >= pattern.Length || pattern[i + 2] != '{')
                            {
                                throw new NotSupportedException($"{component}: the regex /{pattern}/ has a \\p escape without {{...}}.");
                            }

                            output.Append(pattern, i, close - i + 1);
                            i = close;
                            break;
                        }

                        case 'K' or 'R' or 'X' or 'g':
                            throw new NotSupportedException($"{component}: the regex /{pattern}/ uses \\{e}, which this tokenizer does not support.");
                        default:
                            output.Append(c).Append(e);
                            i++;
                            break;
                    }

                    break;
                }

                case '[':
                {
                    lastAtomStart = output.Length;
                    i = CopyClass(pattern, i, output, component);
                    break;
                }

                case '(':
                    groupStarts.Push(output.Length);
                    output.Append(c);
                    if (i + 1 < pattern.Length && pattern[i + 1] == '?')
                    {
                        // (?<name>...), (?:...), (?=...), (?!...), (?<=...), (?<!...), (?>...), (?i:...) are the same in .NET.
                        if (i + 2 < pattern.Length && pattern[i + 2] is '~' or '{' or '(')
                        {
                            throw new NotSupportedException($"{component}: the regex /{pattern}/ uses a group kind .NET does not have.");
                        }
                    }

                    break;
                case ')':
                    output.Append(c);
                    lastAtomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    break;
                case '*' or '+' or '?' or '{':
                {
                    int qStart = i;
                    int qEnd = i + 1;
                    if (c == '{')
                    {
                        int close = pattern.IndexOf('}', i);
                        if (close < 0)
                        {
                            output.Append(@"\{");
                            lastAtomStart = output.Length - 2;
                            break;
                        }

                        qEnd = close + 1;
                    }

                    string quantifier = pattern[qStart..qEnd];
                    if (qEnd < pattern.Length && pattern[qEnd] == '+' && lastAtomStart >= 0)
                    {
                        // Possessive: wrap the atom and its quantifier in an atomic group.
                        string atom = output.ToString(lastAtomStart, output.Length - lastAtomStart);
                        output.Length = lastAtomStart;
                        output.Append("(?>").Append(atom).Append(quantifier).Append(')');
                        i = qEnd;
                    }
                    else
                    {
                        output.Append(quantifier);
                        if (qEnd < pattern.Length && pattern[qEnd] == '?')
                        {
                            output.Append('?');
                            qEnd++;
                        }

                        i = qEnd - 1;
                    }

                    lastAtomStart = -1;
                    break;
                }

                default:
                    lastAtomStart = output.Length;
                    output.Append(c);
                    break;
            }
        }

        return output.ToString();
    }

    private static int CopyClass(string pattern, int i, StringBuilder output, string component)
    {
        // Copies [...] (nested classes and && intersections are Oniguruma-only: rejected).
        output.Append('[');
        int j = i + 1;
        if (j < pattern.Length && pattern[j] == '^')
        {
            output.Append('^');
            j++;
        }

        if (j < pattern.Length && pattern[j] == ']')
        {
            output.Append(@"\]");
            j++;
        }

        for (; j < pattern.Length; j++)
        {
            char c = pattern[j];
            if (c == ']')
            {
                output.Append(']');
                return j;
            }

            if (c == '[' || (c == '&' && j + 1 < pattern.Length && pattern[j + 1] == '&'))
            {
                throw new NotSupportedException($"{component}: the regex /{pattern}/ uses nested or intersected character classes, which this tokenizer does not support.");
            }

            if (c == '\\' && j + 1 < pattern.Length)
            {
                char e = pattern[j + 1];
                if (e == 'w')
                {
                    output.Append(WordChars);
                }
                else if (e == 'h')
                {
                    output.Append("0-9a-fA-F");
                }
                else if (e is 'W' or 'H')
                {
                    throw new NotSupportedException($"{component}: the regex /{pattern}/ uses \\{e} inside a character class, which this tokenizer does not support.");
                }
                else if (e is 'p' or 'P')
                {
                    int close = pattern.IndexOf('}', j);
                    if (close < 0)
                    {
                        throw new NotSupportedException($"{component}: the regex /{pattern}/ has a \\p escape without {{...}}.");
                    }

                    output.Append(pattern, j, close - j + 1);
                    j = close;
                    continue;
                }
                else
                {
                    output.Append(c).Append(e);
                }

                j++;
                continue;
            }

            output.Append(c);
        }

        throw new NotSupportedException($"{component}: the regex /{pattern}/ has an unclosed character class.");
    }
}
