namespace LmWrapper.Cli.Models;

/// <summary>Which kind of model a MODEL argument names.</summary>
internal enum ModelProvider
{
    /// <summary><c>openai:NAME</c>: OpenAI or an OpenAI-compatible server (<c>--base-url</c>).</summary>
    OpenAi,

    /// <summary><c>claude:NAME</c>: Anthropic Claude.</summary>
    Claude,

    /// <summary><c>hf:ORG/NAME</c> or <c>hf:PATH</c>: a local Hugging Face model.</summary>
    HuggingFace,

    /// <summary><c>mock:</c> (or <c>mock:NAME</c>): <see cref="MockLm"/>, which echoes the prompt; for trying the tool offline.</summary>
    Mock,
}
