using Microsoft.Extensions.Options;

namespace LmWrapper.DependencyInjection;

/// <summary>Validates every named <typeparamref name="TSettings"/> with <see cref="LmModelSettings.Validate"/>; messages name the model and the setting, never a key.</summary>
internal sealed class LmSettingsValidator<TSettings> : IValidateOptions<TSettings>
    where TSettings : LmModelSettings
{
    public ValidateOptionsResult Validate(string? name, TSettings options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().Select(p => $"LmWrapper model '{name}': {p}").ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
