using System.Globalization;
using LmWrapper.Costs;
using LmWrapper.DependencyInjection;

namespace LmWrapper.Extensions.AI.DependencyInjection;

/// <summary>
/// Settings of an <c>IChatClient</c> registered as a model with <c>b.AddChatClient(name, …)</c>, bindable from
/// configuration: <see cref="LmModelSettings.Model"/> is the model id sent to the client; the rest describe the model
/// (see <see cref="ChatClientLanguageModelOptions"/>).
/// </summary>
public sealed class ChatClientSettings : LmModelSettings
{
    /// <summary>The provider's name in the model's identity; null means the client's metadata.</summary>
    public string? ProviderName { get; set; }

    /// <summary>The context window in tokens; null means 128,000 (or the wrapped LmWrapper model's).</summary>
    public int? TokenLimit { get; set; }

    /// <summary>Dollars per million input tokens; with <see cref="OutputPricePerMillion"/>, makes costs known.</summary>
    public decimal? InputPricePerMillion { get; set; }

    /// <summary>Dollars per million output tokens.</summary>
    public decimal? OutputPricePerMillion { get; set; }

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
        {
            yield return problem;
        }

        if (TokenLimit is < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"TokenLimit must be at least 1 (or unset), but was {TokenLimit}.");
        }

        if ((InputPricePerMillion is null) != (OutputPricePerMillion is null))
        {
            yield return "InputPricePerMillion and OutputPricePerMillion are set together or not at all.";
        }

        if (InputPricePerMillion is < 0 || OutputPricePerMillion is < 0)
        {
            yield return "Prices must not be negative.";
        }
    }

    /// <summary>The <see cref="ChatClientLanguageModelOptions"/> these settings give.</summary>
    /// <param name="context">The registration's context (logger, model settings).</param>
    public ChatClientLanguageModelOptions ToOptions(LmModelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new ChatClientLanguageModelOptions
        {
            ModelId = Model,
            ProviderName = ProviderName,
            TokenLimit = TokenLimit,
            Prices = InputPricePerMillion is { } input && OutputPricePerMillion is { } output ? new LmTokenPrices(input, output) : null,
            ModelOptions = context.ModelOptions,
        };
    }
}
