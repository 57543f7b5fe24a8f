using System.Collections.Concurrent;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>Locates the tokenizer fixtures copied next to the test assembly, and caches loaded tokenizers.</summary>
internal static class Fixtures
{
    private static readonly ConcurrentDictionary<string, HuggingFaceTokenizer> Tokenizers = new();

    public static string Root
    {
        get
        {
            string local = Path.Combine(AppContext.BaseDirectory, "fixtures", "tokenizers");
            if (Directory.Exists(local))
            {
                return local;
            }

            // Fall back to the repository's tests/fixtures (walking up from the assembly).
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "tokenizers");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new DirectoryNotFoundException("tests/fixtures/tokenizers not found next to the test assembly or above it.");
        }
    }

    public static HuggingFaceTokenizer Tokenizer(string name) =>
        Tokenizers.GetOrAdd(name, n => HuggingFaceTokenizer.FromFolder(Path.Combine(Root, n)));

    public static IEnumerable<JsonElement> Cases() =>
        File.ReadAllLines(Path.Combine(Root, "cases.jsonl"))
            .Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone());

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>llama.cpp's vectors: texts separated by "\n__ggml_vocab_test__\n", one line of ids per text.</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> LlamaCppVectors(string name)
    {
        string dir = Path.Combine(Root, "vectors-llama.cpp");
        string input = File.ReadAllText(Path.Combine(dir, $"ggml-vocab-{name}.gguf.inp"));
        string output = File.ReadAllText(Path.Combine(dir, $"ggml-vocab-{name}.gguf.out"));
        var texts = input.Split("\n__ggml_vocab_test__\n");
        var lines = output.Split('\n');
        if (texts.Length != lines.Length)
        {
            throw new InvalidDataException($"{name}: {texts.Length} texts but {lines.Length} id lines.");
        }

        var result = new List<(string, int[])>();
        for (int i = 0; i < texts.Length; i++)
        {
            if (i == texts.Length - 1 && texts[i].Length == 0 && lines[i].Trim().Length == 0)
            {
                break; // the trailing separator
            }

            var ids = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            result.Add((texts[i], ids));
        }

        return result;
    }
}
