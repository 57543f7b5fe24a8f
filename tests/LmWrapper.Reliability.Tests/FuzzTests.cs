using LmWrapper.Reliability;
using Xunit.Abstractions;

namespace LmWrapper.Reliability.Tests;

/// <summary>Seeded fuzzing: the parsers refuse bad files only with their documented exceptions, and never hang.</summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("safetensors", 5101)]
    [InlineData("tokenizer.json", 5102)]
    [InlineData("jinja", 5103)]
    public void OnlyDocumentedExceptionsAndNoHang(string target, int seed)
    {
        int inputs = ReliabilityCounts.FromEnvironment().FuzzInputs;
        var r = target switch
        {
            "safetensors" => Fuzzers.Safetensors(inputs, seed),
            "tokenizer.json" => Fuzzers.TokenizerJson(inputs, seed),
            _ => Fuzzers.Jinja(inputs, seed),
        };
        output.WriteLine($"{r.Target} (seed {r.Seed}): {r.Inputs} inputs, {r.Accepted} accepted, {r.Refused} refused, {r.Undocumented} undocumented, slowest {r.SlowestMs} ms");
        Assert.True(r.Undocumented == 0, string.Join("\n", r.Examples));
        Assert.Equal(inputs, r.Accepted + r.Refused);
        Assert.True(r.Refused > 0 && r.Accepted > 0, $"the generator should make both good and bad inputs: {r.Accepted} accepted, {r.Refused} refused");
    }
}
