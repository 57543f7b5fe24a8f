using System.Text;
using System.Text.RegularExpressions;

namespace LmWrapper.Testing;

/// <summary>
/// The fake's tokenizer: tiktoken's cl100k pre-tokenizer pattern (words with their leading space, up to three digits,
/// punctuation runs, whitespace), without the BPE merges. Tokens concatenate back to the text. Logprobs are derived
/// from a stable hash, so every run gives the same numbers.
/// </summary>
internal static partial class FakeTokens
{
    private static readonly string[] Alternatives =
        [" the", " a", " and", ".", ",", " of", " to", " in", " is", " it", " that", " for", "\n", " on", " with", " as",
         " be", " at", " this", " by", " from", " or", " an", " was"];

    [GeneratedRegex(@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        foreach (var m in Pattern().EnumerateMatches(text))
        {
            tokens.Add(text.Substring(m.Index, m.Length));
        }

        return tokens;
    }

    public static int Count(string text) => Pattern().Count(text);

    public static double Logprob(string token, int position, int salt)
    {
        uint h = Hash(token, (uint)(position * 31 + salt));
        return -Math.Round(0.0005 + (h % 2500) / 1000.0 * (position == 0 ? 1.5 : 1.0), 6);
    }

    /// <summary>The top <paramref name="k"/> alternatives for a position: the chosen token first, then others, less likely.</summary>
    public static List<(string Token, double Logprob)> Top(string chosen, double chosenLogprob, int k, int position)
    {
        var list = new List<(string, double)>(k);
        if (k <= 0)
        {
            return list;
        }

        list.Add((chosen, chosenLogprob));
        int start = (int)(Hash(chosen, (uint)position) % (uint)Alternatives.Length);
        double lp = chosenLogprob - 0.25;
        for (int j = 0; list.Count < k && j < Alternatives.Length; j++)
        {
            string alt = Alternatives[(start + j) % Alternatives.Length];
            if (alt == chosen)
            {
                continue;
            }

            lp -= 0.3 + (Hash(alt, (uint)(position + j)) % 900) / 1000.0;
            list.Add((alt, Math.Round(lp, 6)));
        }

        return list;
    }

    public static uint Hash(string s, uint seed = 0)
    {
        uint h = 2166136261u ^ seed;
        foreach (char c in s)
        {
            h = (h ^ c) * 16777619u;
        }

        return h;
    }

    public static byte[] Bytes(string token) => Encoding.UTF8.GetBytes(token);
}
