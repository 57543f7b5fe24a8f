using System.Globalization;
using System.Runtime.CompilerServices;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>
/// Code-point classes used by the hand-written pre-tokenizer matchers: Unicode letters (\p{L}),
/// numbers (\p{N}), white space (the Unicode White_Space property, which is what both Oniguruma's
/// and .NET's \s match), and CR/LF. Works on code points, so letters and digits outside the BMP
/// (which .NET's Regex sees as two surrogates) are classified like Hugging Face's regex engine does.
/// </summary>
internal static class CharClass
{
    public const byte Letter = 1;
    public const byte Number = 2;
    public const byte Space = 4;
    public const byte NewLine = 8; // \r or \n (always also Space)
    public const byte Other = 16;  // not a letter, number or white space

    private static readonly byte[] Bmp = BuildBmp();

    private static byte[] BuildBmp()
    {
        var table = new byte[65536];
        for (int c = 0; c < 65536; c++)
        {
            table[c] = char.IsSurrogate((char)c) ? Other : OfCodePoint(c);
        }

        return table;
    }

    /// <summary>The class of a code point.</summary>
    public static byte OfCodePoint(int cp)
    {
        if (cp is '\r' or '\n')
        {
            return Space | NewLine;
        }

        if (cp < 65536 && char.IsWhiteSpace((char)cp))
        {
            return Space;
        }

        switch (CharUnicodeInfo.GetUnicodeCategory(cp))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return Number;
            default:
                return Other;
        }
    }

    /// <summary>The class of the code point starting at <paramref name="i"/>, and its length in UTF-16 units.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte At(ReadOnlySpan<char> s, int i, out int length)
    {
        char c = s[i];
        if (!char.IsSurrogate(c))
        {
            length = 1;
            return Bmp[c];
        }

        return AtSurrogate(s, i, out length);
    }

    private static byte AtSurrogate(ReadOnlySpan<char> s, int i, out int length)
    {
        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            length = 2;
            return OfCodePoint(char.ConvertToUtf32(s[i], s[i + 1]));
        }

        length = 1;
        return Other;
    }

    /// <summary>The class of a BMP char (a lone surrogate is <see cref="Other"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte OfChar(char c) => Bmp[c];
}
