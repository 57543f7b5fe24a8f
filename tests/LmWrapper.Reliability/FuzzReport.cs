namespace LmWrapper.Reliability;

/// <summary>What one fuzzer found.</summary>
/// <param name="Target">"safetensors", "tokenizer.json" or "jinja".</param>
/// <param name="Seed">The generator's seed.</param>
/// <param name="Inputs">Inputs run.</param>
/// <param name="Accepted">Inputs that loaded (or rendered) without an exception.</param>
/// <param name="Refused">Inputs refused with a documented exception type.</param>
/// <param name="Undocumented">Inputs that threw anything else, or hung (must be 0).</param>
/// <param name="Examples">The first few undocumented failures: the exception and the input's number.</param>
/// <param name="SlowestMs">The slowest input.</param>
public sealed record FuzzReport(string Target, int Seed, int Inputs, int Accepted, int Refused, int Undocumented, IReadOnlyList<string> Examples, double SlowestMs);
