using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LmWrapper.OpenAI;

/// <summary>The tiktoken encodings, loaded once each (from the Microsoft.ML.Tokenizers data packages).</summary>
internal static class OpenAiTokenizers
{
    private static readonly ConcurrentDictionary<string, Lazy<TiktokenTokenizer>> Cache = new(StringComparer.Ordinal);

    public static TiktokenTokenizer Get(string encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        if (encoding is not ("o200k_base" or "cl100k_base"))
        {
            throw new ArgumentException($"Unknown tiktoken encoding '{encoding}'; use \"o200k_base\" or \"cl100k_base\".", nameof(encoding));
        }

        return Cache.GetOrAdd(encoding, e => new Lazy<TiktokenTokenizer>(() => TiktokenTokenizer.CreateForEncoding(e))).Value;
    }
}
