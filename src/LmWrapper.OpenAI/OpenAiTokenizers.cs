using System.Collections.Concurrent;
using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace LmWrapper.OpenAI;

/// <summary>
/// The tiktoken encodings, loaded once each from the Microsoft.ML.Tokenizers data packages. Text is encoded as
/// tiktoken's <c>encode_ordinary</c> does (and as the OpenAI API treats prompts): "&lt;|endoftext|&gt;" in a prompt is
/// plain text, not the special token that <c>TiktokenTokenizer.CreateForEncoding</c> would make of it.
/// </summary>
internal static class OpenAiTokenizers
{
    // tiktoken's pre-tokenizer patterns (openai_public.py).
    private const string Cl100kPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly ConcurrentDictionary<string, Lazy<TiktokenTokenizer>> Cache = new(StringComparer.Ordinal);

    /// <summary>Throws unless <paramref name="encoding"/> is one this library can load (without loading it).</summary>
    public static void CheckKnown(string encoding)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        if (encoding is not ("o200k_base" or "cl100k_base"))
        {
            throw new ArgumentException($"Unknown tiktoken encoding '{encoding}'; use \"o200k_base\" or \"cl100k_base\".", nameof(encoding));
        }
    }

    public static TiktokenTokenizer Get(string encoding)
    {
        CheckKnown(encoding);
        return Cache.GetOrAdd(encoding, e => new Lazy<TiktokenTokenizer>(() => Load(e))).Value;
    }

    private static TiktokenTokenizer Load(string encoding)
    {
        string assemblyName = encoding == "o200k_base" ? "Microsoft.ML.Tokenizers.Data.O200kBase" : "Microsoft.ML.Tokenizers.Data.Cl100kBase";
        var assembly = Assembly.Load(assemblyName);
        using var resource = assembly.GetManifestResourceStream(encoding + ".tiktoken.deflate")
            ?? throw new InvalidOperationException($"{assemblyName} has no {encoding}.tiktoken.deflate resource.");
        using var vocab = new DeflateStream(resource, CompressionMode.Decompress);
        var regex = new Regex(encoding == "o200k_base" ? O200kPattern : Cl100kPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        return TiktokenTokenizer.Create(vocab, new RegexPreTokenizer(regex, null), normalizer: null, specialTokens: null);
    }
}
