using System.Globalization;
using LmWrapper.DependencyInjection;

namespace LmWrapper.HuggingFace.DependencyInjection;

/// <summary>
/// Settings of a local model registered with <c>b.AddHuggingFace(name, …)</c>, bindable from configuration:
/// <see cref="LmModelSettings.Model"/> is a model folder or a hub id; the rest are <see cref="HuggingFaceLmOptions"/>' own.
/// </summary>
public sealed class HuggingFaceSettings : LmModelSettings
{
    /// <summary>Threads for inference; null means every core (<see cref="HuggingFaceLmOptions.Threads"/>).</summary>
    public int? Threads { get; set; }

    /// <summary>The hub revision (branch, tag or commit) for a hub id; null means main.</summary>
    public string? Revision { get; set; }

    /// <summary>Top-k sampling (0 for none); see <see cref="HuggingFaceLmOptions.TopK"/>.</summary>
    public int TopK { get; set; }

    /// <summary>How many prompts one batched forward pass takes; see <see cref="HuggingFaceLmOptions.MaxBatchSize"/>. Default 8.</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
        {
            yield return problem;
        }

        if (Threads is < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Threads must be at least 1 (or unset), but was {Threads}.");
        }

        if (TopK < 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"TopK must be 0 or more, but was {TopK}.");
        }

        if (MaxBatchSize < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"MaxBatchSize must be at least 1, but was {MaxBatchSize}.");
        }
    }

    /// <summary>The <see cref="HuggingFaceLmOptions"/> these settings give.</summary>
    /// <param name="context">The registration's context (logger, model settings).</param>
    public HuggingFaceLmOptions ToOptions(LmModelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = new HuggingFaceLmOptions
        {
            ModelOptions = context.ModelOptions,
            Revision = Revision,
            TopK = TopK,
            MaxBatchSize = MaxBatchSize,
        };
        return Threads is { } threads ? options with { Threads = threads } : options;
    }
}
