using Xunit;

namespace LmWrapper.TestSupport;

/// <summary>Shared by the streaming tests of every provider (linked into each test project): reads a whole stream.</summary>
internal static class StreamCollector
{
    /// <summary>Every update of <paramref name="prompt"/>'s stream, checking that exactly one, the last, is final; and its prediction.</summary>
    public static async Task<(List<LmStreamingUpdate> Updates, LmPrediction Final)> CollectAsync(LanguageModel lm, LmPrompt prompt)
    {
        var updates = new List<LmStreamingUpdate>();
        await foreach (var u in lm.PredictStreamingAsync(prompt))
        {
            updates.Add(u);
        }

        Assert.Single(updates, u => u.IsFinal);
        Assert.True(updates[^1].IsFinal);
        return (updates, updates[^1].Prediction!);
    }
}
