using LmWrapper.HuggingFace;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LmWrapper.Extensions.Tests;

public sealed class HuggingFaceRegistrationTests
{
    [Fact]
    public async Task ALocalModelRegistersLoadsOnFirstUseAndAnswersAsAChatClient()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddHuggingFace("local", o =>
        {
            o.Model = Stories260K();
            o.Threads = 1;
        }).ExposeAsChatClients());
        await using var provider = services.BuildServiceProvider();
        var lm = Assert.IsType<HuggingFaceLm>(provider.GetRequiredKeyedService<LanguageModel>("local"));
        var direct = await lm.PredictAsync(new LmPrompt("Once upon a time") { MaxTokens = 8, Temperature = 0 });
        var chat = await provider.GetRequiredKeyedService<IChatClient>("local").GetResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 8, Temperature = 0 });
        Assert.NotEmpty(direct.CompletionText);
        Assert.Equal(direct.CompletionText, chat.Text);
        Assert.Equal(0m, chat.AdditionalProperties![Extensions.AI.LmChatPropertyNames.Cost]); // a local model is free
    }

    [Fact]
    public async Task BadLocalSettingsNameTheSetting()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddHuggingFace("local", o =>
        {
            o.Model = Stories260K();
            o.Threads = 0;
            o.MaxBatchSize = 0;
        }));
        await using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<LanguageModel>("local"));
        Assert.Contains("Threads must be at least 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBatchSize must be at least 1", e.Message, StringComparison.Ordinal);
    }

    private static string Stories260K()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "samples", "models", "stories260K");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("samples/models/stories260K not found above " + AppContext.BaseDirectory);
    }
}
