using LmWrapper.HuggingFace.Models;
using LmWrapper.Internals;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>Collects the hidden states and attention weights a <see cref="ModelInternalsRequest"/> asks for, by position.</summary>
internal sealed class InternalsCollector : IForwardObserver
{
    private readonly ModelConfig _config;
    private readonly bool[] _hidden;
    private readonly bool[] _attention;
    private readonly Dictionary<(int Index, int Position), float[]> _states = [];
    private readonly Dictionary<(int Layer, int Head, int Position), float[]> _weights = [];

    public InternalsCollector(ModelInternalsRequest request, ModelConfig config)
    {
        Request = request;
        _config = config;
        _hidden = new bool[config.NumLayers + 1];
        _attention = new bool[config.NumLayers];
        HiddenLayers = request.HiddenStates ? request.SelectLayers(config.NumLayers + 1) : [];
        AttentionLayers = request.Attentions ? request.SelectLayers(config.NumLayers) : [];
        foreach (int i in HiddenLayers)
        {
            _hidden[i] = true;
        }

        foreach (int i in AttentionLayers)
        {
            _attention[i] = true;
        }
    }

    public ModelInternalsRequest Request { get; }

    public IReadOnlyList<int> HiddenLayers { get; }

    public IReadOnlyList<int> AttentionLayers { get; }

    public bool WantsHidden(int index) => _hidden[index];

    public bool WantsAttention(int layer) => _attention[layer];

    public void Hidden(int index, int position, ReadOnlySpan<float> state) => _states[(index, position)] = state.ToArray();

    public void Attention(int layer, int head, int position, ReadOnlySpan<float> weights) => _weights[(layer, head, position)] = weights.ToArray();

    /// <summary>The result for the given positions, reading each from this collector or from <paramref name="prompt"/> (the shared prompt pass).</summary>
    public LmModelInternals Build(IReadOnlyList<int> positions, InternalsCollector? prompt, bool hasBos)
    {
        int d = _config.HiddenSize, heads = _config.NumHeads;
        int keys = positions.Count == 0 ? 0 : positions.Max() + 1;
        float[] Find<TKey>(Dictionary<TKey, float[]> own, Dictionary<TKey, float[]>? shared, TKey key)
            where TKey : notnull =>
            own.TryGetValue(key, out var v) ? v : shared is not null && shared.TryGetValue(key, out var s) ? s
                : throw new InvalidOperationException($"Internals for {key} were not recorded.");

        var hidden = new List<LmTensor>();
        foreach (int index in HiddenLayers)
        {
            var data = new float[positions.Count * d];
            for (int p = 0; p < positions.Count; p++)
            {
                Find(_states, prompt?._states, (index, positions[p])).CopyTo(data, p * d);
            }

            hidden.Add(new LmTensor(data, positions.Count, d));
        }

        var attentions = new List<LmTensor>();
        foreach (int layer in AttentionLayers)
        {
            var data = new float[heads * positions.Count * keys];
            for (int h = 0; h < heads; h++)
            {
                for (int p = 0; p < positions.Count; p++)
                {
                    var row = Find(_weights, prompt?._weights, (layer, h, positions[p]));
                    row.CopyTo(data, ((h * positions.Count) + p) * keys);
                }
            }

            attentions.Add(new LmTensor(data, heads, positions.Count, keys));
        }

        return new LmModelInternals
        {
            Positions = positions,
            HasBos = hasBos,
            NumLayers = _config.NumLayers,
            HiddenStateLayers = HiddenLayers,
            HiddenStates = hidden,
            AttentionLayers = AttentionLayers,
            Attentions = attentions,
        };
    }
}
