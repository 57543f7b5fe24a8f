namespace LmWrapper.Internals;

/// <summary>
/// What a local model returned for a <see cref="ModelInternalsRequest"/> (the Python lmwrapper's
/// <c>ModelInternalsResults</c>): hidden states and attention weights for the chosen layers and positions.
/// </summary>
public sealed class LmModelInternals
{
    /// <summary>The token positions covered (0 is the first token fed to the model, a beginning-of-sequence token when there is one).</summary>
    public required IReadOnlyList<int> Positions { get; init; }

    /// <summary>Whether position 0 is a beginning-of-sequence token the model added.</summary>
    public bool HasBos { get; init; }

    /// <summary>The model's layer count L (there are L + 1 hidden states).</summary>
    public int NumLayers { get; init; }

    /// <summary>Which hidden states <see cref="HiddenStates"/> holds (0 = the embedding output, L = the final normed output).</summary>
    public IReadOnlyList<int> HiddenStateLayers { get; init; } = [];

    /// <summary>One [positions, hidden size] tensor per entry of <see cref="HiddenStateLayers"/>; empty when not asked for.</summary>
    public IReadOnlyList<LmTensor> HiddenStates { get; init; } = [];

    /// <summary>Which layers <see cref="Attentions"/> holds (0 to L − 1).</summary>
    public IReadOnlyList<int> AttentionLayers { get; init; } = [];

    /// <summary>
    /// One [heads, positions, keys] tensor per entry of <see cref="AttentionLayers"/>: each query position's softmax weights
    /// over key positions 0 to keys − 1 (zero for future and out-of-window keys); empty when not asked for.
    /// </summary>
    public IReadOnlyList<LmTensor> Attentions { get; init; } = [];
}
