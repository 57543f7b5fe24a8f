namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// One sequence's part of a batched forward pass: the new tokens to run after what its cache holds, and what to return.
/// </summary>
internal sealed class ForwardItem
{
    /// <summary>The sequence's keys and values so far; the new tokens are appended.</summary>
    public required KvCache Cache { get; init; }

    /// <summary>The tokens to run.</summary>
    public required int[] Tokens { get; init; }

    /// <summary>Logits for every new token (echo), rather than for the last only.</summary>
    public bool AllLogits { get; init; }

    /// <summary>Receives hidden states and attention weights, when asked for.</summary>
    public IForwardObserver? Observer { get; init; }

    /// <summary>
    /// The result: [rows, vocab] logits, rows = all new tokens or the last one. An array of exactly that length set here
    /// beforehand is filled in place (a decoding loop reuses one array per sequence); otherwise a new one is made.
    /// </summary>
    public float[] Logits { get; set; } = [];
}

/// <summary>Receives a forward pass's internals for one sequence.</summary>
internal interface IForwardObserver
{
    /// <summary>Whether hidden state <paramref name="index"/> is wanted (0 = embeddings, L = the final, normed output).</summary>
    bool WantsHidden(int index);

    /// <summary>Whether layer <paramref name="layer"/>'s attention weights are wanted.</summary>
    bool WantsAttention(int layer);

    /// <summary>A hidden state of one position.</summary>
    void Hidden(int index, int position, ReadOnlySpan<float> state);

    /// <summary>One head's attention weights of one query position over keys 0..position.</summary>
    void Attention(int layer, int head, int position, ReadOnlySpan<float> weights);
}
