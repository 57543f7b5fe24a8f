using System.Diagnostics;

namespace LmWrapper.Diagnostics;

/// <summary>
/// The names under which LmWrapper publishes traces and metrics, following the OpenTelemetry GenAI semantic conventions
/// (<c>gen_ai.*</c>), so an exporter picks them up with <c>AddSource(LmTelemetry.ActivitySourceName)</c> and
/// <c>AddMeter(LmTelemetry.MeterName)</c> and no other code.
/// </summary>
/// <remarks>
/// <para>
/// <b>Traces.</b> One <see cref="ActivityKind.Client"/> activity per <c>Predict</c> call and per request a
/// <c>PredictMany</c> run sends at once, named "{gen_ai.operation.name} {gen_ai.request.model}" ("chat gpt-4o-mini"),
/// with <c>gen_ai.operation.name</c>, <c>gen_ai.provider.name</c>, <c>gen_ai.request.model</c>,
/// <c>gen_ai.request.max_tokens</c>, <c>gen_ai.request.temperature</c>, <c>gen_ai.request.top_p</c>,
/// <c>gen_ai.response.finish_reasons</c>, <c>gen_ai.usage.input_tokens</c>, <c>gen_ai.usage.output_tokens</c>,
/// <c>lmwrapper.cached</c> and <c>lmwrapper.cost_usd</c>; an error status and <c>error.type</c> on failure; an
/// <c>lmwrapper.retry</c> event per retried HTTP attempt. One activity per <c>PredictMany</c> run
/// ("predict_many {model}") and one per provider batch ("batch {model}"). Prompt and completion text are never recorded.
/// </para>
/// <para>
/// <b>Metrics</b> (meter <see cref="MeterName"/>): <c>gen_ai.client.token.usage</c> (histogram, tag
/// <c>gen_ai.token.type</c> input/output), <c>gen_ai.client.operation.duration</c> (histogram, seconds, per request
/// sent), and the counters <c>lmwrapper.requests</c>, <c>lmwrapper.cache.hits</c>, <c>lmwrapper.cache.misses</c> (samples),
/// <c>lmwrapper.retries</c>, <c>lmwrapper.cost</c>, <c>lmwrapper.cache.savings</c>, <c>lmwrapper.batch.savings</c> (US
/// dollars), <c>lmwrapper.batch.jobs</c> and <c>lmwrapper.batch.requests</c> (tag <c>lmwrapper.batch.state</c>). Every
/// measurement carries <c>gen_ai.provider.name</c> (openai, anthropic, huggingface, mock), <c>gen_ai.request.model</c>
/// and <c>gen_ai.operation.name</c> (chat, text_completion); failed requests add <c>error.type</c>. The meter comes
/// from <see cref="LanguageModelOptions.MeterFactory"/> when one is given, else it is a process-wide one.
/// </para>
/// </remarks>
public static class LmTelemetry
{
    /// <summary>The name of LmWrapper's <see cref="System.Diagnostics.ActivitySource"/>: "LmWrapper".</summary>
    public const string ActivitySourceName = "LmWrapper";

    /// <summary>The name of LmWrapper's <see cref="System.Diagnostics.Metrics.Meter"/>: "LmWrapper".</summary>
    public const string MeterName = "LmWrapper";

    /// <summary>The version the source and the meter carry: the LmWrapper assembly's version.</summary>
    public static string Version { get; } = typeof(LmTelemetry).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    /// <summary>The activity source every LmWrapper activity comes from.</summary>
    internal static ActivitySource Source { get; } = new(ActivitySourceName, Version);
}
