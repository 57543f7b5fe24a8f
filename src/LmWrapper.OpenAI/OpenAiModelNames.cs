namespace LmWrapper.OpenAI;

/// <summary>
/// Names of OpenAI models that LmWrapper knows (see <see cref="OpenAiModelRegistry"/> for their limits and prices).
/// Any other name works too once registered.
/// </summary>
public static class OpenAiModelNames
{
    /// <summary>GPT-4o: the multimodal flagship of 2024 (128k context).</summary>
    public const string Gpt4o = "gpt-4o";

    /// <summary>GPT-4o mini: small, fast and cheap (128k context).</summary>
    public const string Gpt4oMini = "gpt-4o-mini";

    /// <summary>GPT-4.1: long context (about 1M tokens), strong at instructions and code.</summary>
    public const string Gpt41 = "gpt-4.1";

    /// <summary>GPT-4.1 mini.</summary>
    public const string Gpt41Mini = "gpt-4.1-mini";

    /// <summary>GPT-4.1 nano: the smallest and cheapest GPT-4.1.</summary>
    public const string Gpt41Nano = "gpt-4.1-nano";

    /// <summary>GPT-4 Turbo (128k context).</summary>
    public const string Gpt4Turbo = "gpt-4-turbo";

    /// <summary>The original GPT-4 (8k context).</summary>
    public const string Gpt4 = "gpt-4";

    /// <summary>GPT-5: a reasoning model.</summary>
    public const string Gpt5 = "gpt-5";

    /// <summary>GPT-5 mini: a reasoning model.</summary>
    public const string Gpt5Mini = "gpt-5-mini";

    /// <summary>GPT-5 nano: a reasoning model.</summary>
    public const string Gpt5Nano = "gpt-5-nano";

    /// <summary>GPT-5.1: a reasoning model that does not reason unless asked (its reasoning effort defaults to none).</summary>
    public const string Gpt51 = "gpt-5.1";

    /// <summary>o1: a reasoning model.</summary>
    public const string O1 = "o1";

    /// <summary>o1-mini: a small reasoning model.</summary>
    public const string O1Mini = "o1-mini";

    /// <summary>o3: a reasoning model.</summary>
    public const string O3 = "o3";

    /// <summary>o3-mini: a small reasoning model.</summary>
    public const string O3Mini = "o3-mini";

    /// <summary>o4-mini: a small reasoning model.</summary>
    public const string O4Mini = "o4-mini";

    /// <summary>The GPT-4o snapshot of 2024-05-13 (the first GPT-4o; 4k output, its own higher prices).</summary>
    public const string Gpt4o20240513 = "gpt-4o-2024-05-13";

    /// <summary>The GPT-4o snapshot of 2024-11-20.</summary>
    public const string Gpt4o20241120 = "gpt-4o-2024-11-20";

    /// <summary>The GPT-4o mini snapshot of 2024-07-18 (what <see cref="Gpt4oMini"/> points to).</summary>
    public const string Gpt4oMini20240718 = "gpt-4o-mini-2024-07-18";

    /// <summary>The GPT-4 Turbo preview of 2023-11-06 (128k context, 4k output).</summary>
    public const string Gpt41106Preview = "gpt-4-1106-preview";

    /// <summary>o1-preview: the first o1 release (a reasoning model).</summary>
    public const string O1Preview = "o1-preview";

    /// <summary>The o1-preview snapshot of 2024-09-12.</summary>
    public const string O1Preview20240912 = "o1-preview-2024-09-12";

    /// <summary>The o1-mini snapshot of 2024-09-12.</summary>
    public const string O1Mini20240912 = "o1-mini-2024-09-12";

    /// <summary>The o4-mini snapshot of 2025-04-16.</summary>
    public const string O4Mini20250416 = "o4-mini-2025-04-16";

    /// <summary>GPT-3.5 Turbo: the original ChatGPT model (16k context).</summary>
    public const string Gpt35Turbo = "gpt-3.5-turbo";

    /// <summary>GPT-3.5 Turbo Instruct: a completion model (legacy Completions API, with echo and logprobs).</summary>
    public const string Gpt35TurboInstruct = "gpt-3.5-turbo-instruct";

    /// <summary>davinci-002: a base completion model.</summary>
    public const string Davinci002 = "davinci-002";

    /// <summary>babbage-002: a small base completion model.</summary>
    public const string Babbage002 = "babbage-002";
}
