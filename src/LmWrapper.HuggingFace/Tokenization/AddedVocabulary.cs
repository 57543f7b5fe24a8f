using System.Buffers;
using System.Globalization;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>A token added on top of the model's vocabulary (tokenizer.json's <c>added_tokens</c>).</summary>
internal sealed record AddedToken(int Id, string Content, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);

/// <summary>A piece of text after splitting out added tokens: either a token or plain text [Start, End).</summary>
internal readonly record struct AddedSplit(int Start, int End, AddedToken? Token);

/// <summary>
/// Finds added tokens in text the way Hugging Face's AddedVocabulary does: leftmost-longest
/// matching (Aho-Corasick semantics), then single_word, lstrip and rstrip applied to each match.
/// </summary>
internal sealed class AddedTokenMatcher
{
    // Patterns of two or more chars by their first two chars, longest first; one-char patterns apart.
    private readonly Dictionary<(char, char), (string Pattern, AddedToken Token)[]> _byPrefix;
    private readonly Dictionary<char, AddedToken> _singleChars;
    private readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> patterns)
    {
        var list = patterns.Where(p => p.Pattern.Length > 0).ToList();
        _byPrefix = list
            .Where(p => p.Pattern.Length > 1)
            .GroupBy(p => (p.Pattern[0], p.Pattern[1]))
            .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Pattern.Length).ToArray());
        _singleChars = new Dictionary<char, AddedToken>();
        foreach (var (pattern, token) in list.Where(p => p.Pattern.Length == 1))
        {
            _singleChars.TryAdd(pattern[0], token);
        }

        _firstChars = SearchValues.Create(list.Select(p => p.Pattern[0]).Distinct().ToArray());
    }

    public bool IsEmpty => _byPrefix.Count == 0 && _singleChars.Count == 0;

    /// <summary>Splits the text into added tokens and the text between them (covering it all; empty pieces dropped).</summary>
    public void Split(string sentence, List<AddedSplit> output)
    {
        if (IsEmpty)
        {
            if (sentence.Length > 0)
            {
                output.Add(new AddedSplit(0, sentence.Length, null));
            }

            return;
        }

        int startOffset = 0;
        int pos = 0;
        while (pos < sentence.Length)
        {
            int k = sentence.AsSpan(pos).IndexOfAny(_firstChars);
            if (k < 0)
            {
                break;
            }

            int at = pos + k;
            AddedToken? token = null;
            int stop = at;
            if (at + 1 < sentence.Length && _byPrefix.TryGetValue((sentence[at], sentence[at + 1]), out var longer))
            {
                foreach (var (pattern, t) in longer)
                {
                    if (sentence.AsSpan(at).StartsWith(pattern, StringComparison.Ordinal))
                    {
                        token = t;
                        stop = at + pattern.Length;
                        break;
                    }
                }
            }

            if (token is null && _singleChars.TryGetValue(sentence[at], out var single))
            {
                token = single;
                stop = at + 1;
            }

            if (token is null)
            {
                pos = at + 1;
                continue;
            }

            pos = stop;
            int start = at;
            if (token.SingleWord)
            {
                bool startSpace = start == 0 || !IsWordChar(sentence, start, before: true);
                bool stopSpace = stop == sentence.Length || !IsWordChar(sentence, stop, before: false);
                if (!startSpace || !stopSpace)
                {
                    continue;
                }
            }

            if (token.LStrip)
            {
                int newStart = start;
                while (newStart > 0 && char.IsWhiteSpace(sentence[newStart - 1]))
                {
                    newStart--;
                }

                start = Math.Max(newStart, startOffset);
            }

            if (token.RStrip)
            {
                while (stop < sentence.Length && char.IsWhiteSpace(sentence[stop]))
                {
                    stop++;
                }

                pos = Math.Max(pos, stop);
            }

            if (startOffset < start)
            {
                output.Add(new AddedSplit(startOffset, start, null));
            }

            output.Add(new AddedSplit(start, stop, token));
            startOffset = stop;
        }

        if (startOffset < sentence.Length)
        {
            output.Add(new AddedSplit(startOffset, sentence.Length, null));
        }
    }

    /// <summary>Whether the char just before (or at) <paramref name="index"/> is a Unicode word char (Rust regex \w).</summary>
    private static bool IsWordChar(string s, int index, bool before)
    {
        int cp;
        if (before)
        {
            char c = s[index - 1];
            cp = char.IsLowSurrogate(c) && index >= 2 && char.IsHighSurrogate(s[index - 2]) ? char.ConvertToUtf32(s[index - 2], c) : c;
        }
        else
        {
            char c = s[index];
            cp = char.IsHighSurrogate(c) && index + 1 < s.Length && char.IsLowSurrogate(s[index + 1]) ? char.ConvertToUtf32(c, s[index + 1]) : c;
        }

        if (cp is 0x200C or 0x200D)
        {
            return true; // Join_Control
        }

        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }
}
