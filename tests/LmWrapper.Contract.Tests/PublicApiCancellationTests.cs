using System.Reflection;
using LmWrapper.Anthropic;
using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;
using LmWrapper.Testing;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// Every public async method of every src assembly takes a <see cref="CancellationToken"/>: a caller can always stop
/// what it started. Only <c>DisposeAsync</c> (whose signature <see cref="IAsyncDisposable"/> fixes) is exempt.
/// </summary>
public sealed class PublicApiCancellationTests
{
    private static readonly Assembly[] SrcAssemblies =
    [
        typeof(LanguageModel).Assembly,
        typeof(OpenAiLm).Assembly,
        typeof(ClaudeLm).Assembly,
        typeof(HuggingFaceLm).Assembly,
        typeof(FakeOpenAiServer).Assembly,
        typeof(LmWrapper.Extensions.AI.LanguageModelChatClient).Assembly,
        typeof(LmWrapper.DependencyInjection.LmWrapperBuilder).Assembly,
    ];

    [Fact]
    public void EveryPublicAsyncMethodTakesACancellationToken()
    {
        var missing = PublicAsyncMethods()
            .Where(m => !m.GetParameters().Any(p => p.ParameterType == typeof(CancellationToken)))
            .Select(Describe)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(missing.Count == 0, "Public async methods without a CancellationToken:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void TheAuditSeesTheAsyncApi()
    {
        // The audit must not pass by finding nothing: it sees the methods we know are there.
        var seen = PublicAsyncMethods().Select(Describe).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(seen, s => s.StartsWith("LmWrapper.LanguageModel.PredictAsync(", StringComparison.Ordinal));
        Assert.Contains(seen, s => s.StartsWith("LmWrapper.LanguageModel.PredictManyAsync(", StringComparison.Ordinal));
        Assert.Contains(seen, s => s.StartsWith("LmWrapper.Anthropic.ClaudeLm.CountTokensAsync(", StringComparison.Ordinal));
        Assert.Contains(seen, s => s.StartsWith("LmWrapper.Extensions.AI.LanguageModelChatClient.GetResponseAsync(", StringComparison.Ordinal));
        Assert.True(seen.Count > 20, $"only {seen.Count} async methods found");
    }

    [Fact]
    public void SyncTwinsAreOnlyTheSeedsAndSayTheyBlock()
    {
        // The seed has Predict and PredictMany; no other public method has an ...Async twin beside it.
        var sync = (
            from assembly in SrcAssemblies
            from type in assembly.GetExportedTypes()
            let methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            from m in methods
            where !IsAsync(m.ReturnType) && methods.Any(a => a.Name == m.Name + "Async")
            select $"{type.FullName}.{m.Name}").ToHashSet(StringComparer.Ordinal);
        // Besides them: the Get factories (the seed's get_*_lm are synchronous), and LmImage.FromStream (issue 15 asks for
        // both; an image is read where a prompt is built, often in synchronous code).
        Assert.Equal(
            [
                "LmWrapper.HuggingFace.HuggingFaceLm.Get",
                "LmWrapper.LanguageModel.Predict",
                "LmWrapper.LanguageModel.PredictMany",
                "LmWrapper.LmImage.FromStream",
            ],
            sync.Order(StringComparer.Ordinal));
        string docs = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "LmWrapper.xml"));
        foreach (var name in new[] { "<member name=\"M:LmWrapper.LanguageModel.Predict(System.String)", "<member name=\"M:LmWrapper.LanguageModel.Predict(LmWrapper.LmPrompt)", "<member name=\"M:LmWrapper.LanguageModel.PredictMany(" })
        {
            int at = docs.IndexOf(name, StringComparison.Ordinal);
            Assert.True(at >= 0, name);
            string member = string.Join(' ', docs[at..docs.IndexOf("</member>", at, StringComparison.Ordinal)].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("Blocks the calling thread", member, StringComparison.Ordinal);
        }
    }

    private static IEnumerable<MethodInfo> PublicAsyncMethods() =>
        from assembly in SrcAssemblies
        from type in assembly.GetExportedTypes()
        from method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
        where (method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly) && !method.IsSpecialName
        where IsAsync(method.ReturnType) && method.Name != nameof(IAsyncDisposable.DisposeAsync)
        select method;

    private static bool IsAsync(Type t)
    {
        if (t == typeof(Task) || t == typeof(ValueTask))
        {
            return true;
        }

        if (!t.IsGenericType)
        {
            return false;
        }

        var d = t.GetGenericTypeDefinition();
        return d == typeof(Task<>) || d == typeof(ValueTask<>) || d == typeof(IAsyncEnumerable<>);
    }

    private static string Describe(MethodInfo m) =>
        $"{m.DeclaringType!.FullName}.{m.Name}({string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name))})";
}
