using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>Builds small tokenizer.json files in a temp folder, to test one component at a time.</summary>
internal static class SyntheticTokenizer
{
    public const string Chars = " abcdefghijklmnopqrstuvwxyz.<>|";

    /// <summary>A char-level BPE (one token per char of <see cref="Chars"/>, ids in that order) with the given parts.</summary>
    public static JsonObject Build(JsonNode? normalizer = null, JsonNode? preTokenizer = null, JsonNode? decoder = null,
        JsonNode? postProcessor = null, JsonArray? addedTokens = null, JsonObject? model = null)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < Chars.Length; i++)
        {
            vocab[Chars[i].ToString()] = i;
        }

        model ??= new JsonObject
        {
            ["type"] = "BPE",
            ["dropout"] = null,
            ["unk_token"] = null,
            ["vocab"] = vocab,
            ["merges"] = new JsonArray(),
        };

        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = addedTokens ?? new JsonArray(),
            ["normalizer"] = normalizer?.DeepClone(),
            ["pre_tokenizer"] = preTokenizer?.DeepClone(),
            ["post_processor"] = postProcessor?.DeepClone(),
            ["decoder"] = decoder?.DeepClone(),
            ["model"] = model,
        };
    }

    public static JsonObject Added(int id, string content, bool special = false, bool normalized = false,
        bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = singleWord,
        ["lstrip"] = lstrip,
        ["rstrip"] = rstrip,
        ["normalized"] = normalized,
        ["special"] = special,
    };

    public static int Id(char c) => Chars.IndexOf(c);

    public static int[] Ids(string s) => s.Select(Id).ToArray();

    public static HuggingFaceTokenizer Load(JsonObject tokenizerJson, JsonObject? config = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(path, tokenizerJson.ToJsonString());
            string? configPath = null;
            if (config is not null)
            {
                configPath = Path.Combine(dir, "tokenizer_config.json");
                File.WriteAllText(configPath, config.ToJsonString());
            }

            return HuggingFaceTokenizer.FromFile(path, configPath);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static JsonNode Json(string json) => JsonNode.Parse(json)!;
}
