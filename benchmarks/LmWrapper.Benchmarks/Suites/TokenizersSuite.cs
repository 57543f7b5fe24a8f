using System.Diagnostics;
using System.Globalization;
using System.Text;
using LmWrapper.HuggingFace;
using Microsoft.ML.Tokenizers;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// Encode throughput of <see cref="HuggingFaceTokenizer"/> on each fixture tokenizer, against
/// Microsoft.ML.Tokenizers' tiktoken o200k encoder on the same text in the same run.
/// Single-threaded; the text is a deterministic mix of prose, code, numbers, non-Latin scripts,
/// emoji and white-space runs, cut into documents of about 2 KB that are encoded one by one.
/// </summary>
public sealed class TokenizersSuite : IBenchmarkSuite
{
    public string Name => "tokenizers";

    public string Description => "tokenizer.json encode MB/s (gpt2, llama3, qwen3, llama2) vs Microsoft.ML.Tokenizers tiktoken o200k";

    public Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        double megabytes = 4;
        int rounds = 5;
        for (int i = 0; i < args.Count - 1; i++)
        {
            if (args[i] == "--mb")
            {
                megabytes = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            else if (args[i] == "--rounds")
            {
                rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        string root = FindFixtures();
        var documents = MixedText.Generate((long)(megabytes * 1_000_000), seed: 20260101);
        double totalMb = documents.Sum(d => Encoding.UTF8.GetByteCount(d)) / 1e6;
        Console.WriteLine($"text: {documents.Count} documents, {totalMb:F2} MB (UTF-8); {rounds} interleaved timed rounds after one warm-up, best round reported; byte_level_bpe_vs_mltokenizers_ratio uses the slowest byte-level tokenizer");

        var results = new Dictionary<string, double>();
        var o200k = TiktokenTokenizer.CreateForEncoding("o200k_base");
        var contestants = new List<(string Name, Func<string, int> Encode)>
        {
            ("mltokenizers_o200k", d => o200k.EncodeToIds(d).Count),
        };
        foreach (var name in new[] { "gpt2", "llama3", "qwen3", "llama2" })
        {
            var sw = Stopwatch.StartNew();
            var tokenizer = HuggingFaceTokenizer.FromFolder(Path.Combine(root, name));
            results[$"{name}_load_ms"] = sw.Elapsed.TotalMilliseconds;
            contestants.Add((name, d => tokenizer.Encode(d).Length));
        }

        // Warm-up (JIT, word caches), then interleaved rounds: every contestant once per round, so a
        // machine whose load changes during the run affects all of them alike. Best round counts.
        var tokens = new long[contestants.Count];
        for (int c = 0; c < contestants.Count; c++)
        {
            foreach (var d in documents)
            {
                tokens[c] += contestants[c].Encode(d);
            }
        }

        var best = Enumerable.Repeat(double.MaxValue, contestants.Count).ToArray();
        for (int r = 0; r < rounds; r++)
        {
            for (int c = 0; c < contestants.Count; c++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var encode = contestants[c].Encode;
                var sw = Stopwatch.StartNew();
                foreach (var d in documents)
                {
                    encode(d);
                }

                best[c] = Math.Min(best[c], sw.Elapsed.TotalSeconds);
            }
        }

        for (int c = 0; c < contestants.Count; c++)
        {
            double mbs = totalMb / best[c];
            results[$"{contestants[c].Name}_encode_mb_per_s"] = mbs;
            results[$"{contestants[c].Name}_tokens_per_s"] = tokens[c] / best[c];
            Console.WriteLine($"{contestants[c].Name,-20} {mbs,8:F2} MB/s  {tokens[c] / best[c] / 1e6,8:F2} M tokens/s  ({tokens[c]} tokens)");
        }

        double baseline = results["mltokenizers_o200k_encode_mb_per_s"];
        double slowestByteLevel = double.MaxValue;
        foreach (var name in new[] { "gpt2", "llama3", "qwen3" })
        {
            double mbs = results[$"{name}_encode_mb_per_s"];
            results[$"{name}_vs_mltokenizers_ratio"] = mbs / baseline;
            slowestByteLevel = Math.Min(slowestByteLevel, mbs);
        }

        results["byte_level_bpe_vs_mltokenizers_ratio"] = slowestByteLevel / baseline;
        return Task.FromResult<IReadOnlyDictionary<string, double>>(results);
    }

    /// <summary>The repository's tests/fixtures/tokenizers folder, found above the executable or the working directory.</summary>
    internal static string FindFixtures()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "tokenizers");
                if (Directory.Exists(Path.Combine(candidate, "gpt2")))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/tokenizers not found above the benchmark executable or the working directory; run from the repository.");
    }
}

/// <summary>Deterministic mixed text: prose, code, numbers, other scripts, emoji, white-space runs.</summary>
internal static class MixedText
{
    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all",
        "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "model", "language",
        "tokenizer", "government", "information", "development", "international", "particularly", "understanding", "Berlin",
        "France", "Germany", "Spingldorph", "however", "because", "through", "between", "important", "university", "children",
        "don't", "won't", "I'm", "we'll", "they've", "it's", "She", "The", "In", "A", "When", "Although", "Nevertheless",
    ];

    private static readonly string[] Unicode =
    [
        "café", "naïve", "résumé", "Führer", "Cửa Việt", "日本語のテキスト", "我想在apple工作", "нещо на Български", "Ελληνικά",
        "עברית", "العربية", "हिन्दी", "कान्ते", "កាន់តែពិសេស", "한국어 텍스트", "😀", "🎉👍🏽", "🦙.cpp", "😶‍🌫️", "✅", "½", "①", "ﬁ",
    ];

    private static readonly string[] Code =
    [
        "def f(x):\n    return x**2  # square\n",
        "for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }\n",
        "if (value is null) throw new ArgumentNullException(nameof(value));\n",
        "const result = await fetch(`https://example.com/api?q=${query}&r=2`);\n",
        "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id;\n",
        "\tpublic static int[] Encode(string text, bool addSpecialTokens = false) => throw null!;\n",
        "    x = np.array([[1.0, 2.5], [3.25, -4e-3]])\n",
        "<div class=\"main\">&nbsp;<span>Hello, world!</span></div>\n",
    ];

    public static List<string> Generate(long targetBytes, int seed)
    {
        var random = new Random(seed);
        var documents = new List<string>();
        long total = 0;
        var sb = new StringBuilder();
        while (total < targetBytes)
        {
            sb.Clear();
            while (sb.Length < 2000)
            {
                int kind = random.Next(100);
                if (kind < 55)
                {
                    // A sentence of prose.
                    int n = random.Next(5, 20);
                    for (int i = 0; i < n; i++)
                    {
                        if (i > 0)
                        {
                            sb.Append(' ');
                        }

                        string w = Words[random.Next(Words.Length)];
                        sb.Append(i == 0 ? char.ToUpperInvariant(w[0]) + w[1..] : w);
                        if (random.Next(12) == 0)
                        {
                            sb.Append(',');
                        }
                    }

                    sb.Append(random.Next(6) == 0 ? "? " : ". ");
                }
                else if (kind < 70)
                {
                    sb.Append(Code[random.Next(Code.Length)]);
                }
                else if (kind < 80)
                {
                    // Numbers: integers, decimals, dates, ids.
                    switch (random.Next(4))
                    {
                        case 0: sb.Append(random.Next(0, 1_000_000).ToString(CultureInfo.InvariantCulture)).Append(' '); break;
                        case 1: sb.Append((random.NextDouble() * 1000 - 500).ToString("F4", CultureInfo.InvariantCulture)).Append(' '); break;
                        case 2: sb.Append(CultureInfo.InvariantCulture, $"{random.Next(1900, 2100)}-{random.Next(1, 13):D2}-{random.Next(1, 29):D2} "); break;
                        default: sb.Append(CultureInfo.InvariantCulture, $"0x{random.Next():x8} "); break;
                    }
                }
                else if (kind < 90)
                {
                    sb.Append(Unicode[random.Next(Unicode.Length)]).Append(' ');
                }
                else if (kind < 95)
                {
                    // White-space runs.
                    string[] runs = ["\n\n", "    ", "\t\t", "  \n", "\r\n", "      \n\n   "];
                    sb.Append(runs[random.Next(runs.Length)]);
                }
                else
                {
                    // A rare "word": random letters (cache misses).
                    int n = random.Next(3, 12);
                    for (int i = 0; i < n; i++)
                    {
                        sb.Append((char)('a' + random.Next(26)));
                    }

                    sb.Append(' ');
                }
            }

            string doc = sb.ToString();
            documents.Add(doc);
            total += Encoding.UTF8.GetByteCount(doc);
        }

        return documents;
    }
}
