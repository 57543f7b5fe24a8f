using LmWrapper.Costs;

namespace LmWrapper;

/// <summary>
/// What every model says about itself, with one meaning for every provider (<see cref="LanguageModel.ModelInfo"/>): its
/// name, limits, prices and capabilities.
/// </summary>
/// <param name="Name">The model's name (an API name, or a hub id or folder for a local model).</param>
/// <param name="ContextWindow">The most prompt plus completion tokens.</param>
/// <param name="MaxOutputTokens">The most tokens one completion may generate.</param>
/// <param name="Prices">Dollars per million tokens and the batch discount; <see cref="LmTokenPrices.Free"/> for a local model; null when unknown (costs then throw).</param>
/// <param name="Capabilities">What the model can do.</param>
public sealed record LmModelInfo(string Name, int ContextWindow, int MaxOutputTokens, LmTokenPrices? Prices, LmCapabilities Capabilities)
{
    /// <summary>Whether the model has every capability in <paramref name="capabilities"/>.</summary>
    /// <param name="capabilities">The capabilities to check.</param>
    public bool Has(LmCapabilities capabilities) => (Capabilities & capabilities) == capabilities;
}
