using System.Globalization;

namespace LmWrapper.Internals;

/// <summary>
/// Asks a local model for its internal states along with a prediction (the Python lmwrapper's
/// <c>ModelInternalsRequest</c>): hidden states and/or attention weights, for chosen layers and positions. Set it on
/// <see cref="LmPrompt.Internals"/>. A prompt that asks for internals is never answered from the cache nor stored in it
/// (tensors are not cached), and a model that cannot return them (a remote API) rejects it with an
/// <see cref="LmPromptException"/> before anything is sent.
/// </summary>
public sealed record ModelInternalsRequest
{
    /// <summary>Return hidden states: for a model of L layers there are L + 1 (the embedding output first; the last has the final norm applied, as transformers returns them).</summary>
    public bool HiddenStates { get; init; }

    /// <summary>Return attention weights (one [heads, queries, keys] tensor per chosen layer).</summary>
    public bool Attentions { get; init; }

    /// <summary>Which layers, by index (negative counts from the end: -1 is the last). Null (and no <see cref="LayerFractions"/>) means all.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>Which layers, by fraction of depth in [0, 1]: <c>round((count - 1) × f)</c>, rounding half to even as Python does.</summary>
    public IReadOnlyList<double>? LayerFractions { get; init; }

    /// <summary>Which positions to return. Default: all processed positions.</summary>
    public LmInternalsPositions Positions { get; init; } = LmInternalsPositions.All;

    /// <summary>Checks the request's own fields.</summary>
    /// <exception cref="LmPromptException">Nothing is asked for, both layer selectors are set, or a fraction is outside [0, 1].</exception>
    public void Validate()
    {
        const string Field = nameof(LmPrompt.Internals);
        if (!HiddenStates && !Attentions)
        {
            throw new LmPromptException("The internals request asks for nothing: set HiddenStates and/or Attentions.", Field);
        }

        if (Layers is not null && LayerFractions is not null)
        {
            throw new LmPromptException("The internals request sets both Layers and LayerFractions; choose layers one way.", Field);
        }

        if (Layers is { Count: 0 } || LayerFractions is { Count: 0 })
        {
            throw new LmPromptException("The internals request's layer list is empty; leave it null for every layer.", Field);
        }

        if (LayerFractions is { } fractions)
        {
            foreach (double f in fractions)
            {
                if (!(f >= 0 && f <= 1))
                {
                    throw new LmPromptException(string.Create(CultureInfo.InvariantCulture, $"Layer fraction {f} is outside [0, 1]."), Field);
                }
            }
        }

        if ((Positions & LmInternalsPositions.All) == 0 || (Positions & ~LmInternalsPositions.All) != 0)
        {
            throw new LmPromptException($"The internals request's Positions ({(int)Positions}) must be Prompt, Generated or All.", Field);
        }
    }

    /// <summary>
    /// The layer indices (0 to <paramref name="count"/> − 1) this request selects from <paramref name="count"/> layers,
    /// in request order.
    /// </summary>
    /// <param name="count">How many there are (L + 1 hidden states, L attention layers).</param>
    /// <exception cref="LmPromptException">An index is out of range.</exception>
    public IReadOnlyList<int> SelectLayers(int count)
    {
        if (Layers is { } layers)
        {
            var result = new int[layers.Count];
            for (int i = 0; i < result.Length; i++)
            {
                int index = layers[i] < 0 ? count + layers[i] : layers[i];
                if (index < 0 || index >= count)
                {
                    throw new LmPromptException($"Layer {layers[i]} is out of range: there are {count} (indices {-count} to {count - 1}).", nameof(LmPrompt.Internals));
                }

                result[i] = index;
            }

            return result;
        }

        if (LayerFractions is { } fractions)
        {
            return [.. fractions.Select(f => (int)Math.Round((count - 1) * f, MidpointRounding.ToEven))];
        }

        return [.. Enumerable.Range(0, count)];
    }

    /// <summary>Value equality, comparing the layer lists element by element.</summary>
    /// <param name="other">The request to compare with.</param>
    public bool Equals(ModelInternalsRequest? other) =>
        other is not null && HiddenStates == other.HiddenStates && Attentions == other.Attentions && Positions == other.Positions
        && SeqEq(Layers, other.Layers) && SeqEq(LayerFractions, other.LayerFractions);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HiddenStates, Attentions, Positions, Layers?.Count, LayerFractions?.Count);

    private static bool SeqEq<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b) => a is null ? b is null : b is not null && a.SequenceEqual(b);
}
