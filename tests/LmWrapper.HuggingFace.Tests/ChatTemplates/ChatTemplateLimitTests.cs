using System.Diagnostics;
using System.Text;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>Hostile templates end in a typed <see cref="ChatTemplateLimitException"/>, never a stack overflow, a hang or an out-of-memory.</summary>
public class ChatTemplateLimitTests
{
    private static string Nested(string open, string middle, string close, int n)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.Append(open);
        sb.Append(middle);
        for (int i = 0; i < n; i++) sb.Append(close);
        return sb.ToString();
    }

    // Parsed on a thread with a small stack too: the limit, not the stack size, must decide.
    private static Exception? ParseOnSmallStack(string template)
    {
        Exception? caught = null;
        var t = new Thread(() =>
        {
            try
            {
                ChatTemplate.Parse(template);
            }
            catch (Exception e)
            {
                caught = e;
            }
        }, 256 * 1024);
        t.Start();
        t.Join();
        return caught;
    }

    [Fact]
    public void FiveThousandNestedParenthesesAreALimitErrorNotAStackOverflow()
    {
        string template = "{{ " + Nested("(", "1", ")", 5000) + " }}";
        var e = Assert.Throws<ChatTemplateLimitException>(() => ChatTemplate.Parse(template));
        Assert.Contains(ChatTemplate.MaxNestingDepth.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.IsType<ChatTemplateLimitException>(ParseOnSmallStack(template));
    }

    [Theory]
    [InlineData("{% if true %}", "x", "{% endif %}", 2_000)]
    [InlineData("{% for i in [1] %}", "x", "{% endfor %}", 2_000)]
    [InlineData("{{ ", "1", "", 0)]
    public void DeeplyNestedBlocksAndOperatorsAreALimitError(string open, string middle, string close, int n)
    {
        string template = n > 0 ? Nested(open, middle, close, n) : "{{ " + string.Concat(Enumerable.Repeat("not ", 2_000)) + "true }}{{ " + string.Concat(Enumerable.Repeat("- ", 2_000)) + "1 }}";
        Assert.IsAssignableFrom<ChatTemplateException>(Assert.Throws<ChatTemplateLimitException>(() => ChatTemplate.Parse(template)));
        Assert.IsType<ChatTemplateLimitException>(ParseOnSmallStack(template));
    }

    [Fact]
    public void ModerateNestingStillWorks()
    {
        Assert.Equal("1", ChatTemplate.Parse("{{ " + Nested("(", "1", ")", 50) + " }}").RenderVariables(new Dictionary<string, object?>()));
        Assert.Equal("x", ChatTemplate.Parse(Nested("{% if true %}", "x", "{% endif %}", 50)).RenderVariables(new Dictionary<string, object?>()));
    }

    [Fact]
    public void NestedHugeLoopsStopAtTheStepLimit()
    {
        var template = ChatTemplate.Parse("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<ChatTemplateLimitException>(() => template.RenderVariables(new Dictionary<string, object?>()));
        Assert.Contains("steps", e.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
    }

    [Fact]
    public void ARenderCanBeCancelled()
    {
        var template = ChatTemplate.Parse("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var watch = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => template.Render([LmChatTurn.User("hi")], cancellationToken: cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");

        using var already = new CancellationTokenSource();
        already.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ChatTemplate.Parse("x").RenderVariables(new Dictionary<string, object?>(), already.Token));
    }

    [Theory]
    [InlineData("{{ 'abc' * 1000000000 }}")]
    [InlineData("{{ 1000000000 * 'abc' }}")]
    [InlineData("{{ ([1] * 1000000000) | length }}")]
    [InlineData("{% set s = 'x' * 1000000 %}{% for i in range(100000) %}{{ s }}{% endfor %}")]
    public void OutputThatWouldPassTheSizeLimitIsALimitError(string source)
    {
        var template = ChatTemplate.Parse(source);
        var e = Assert.Throws<ChatTemplateLimitException>(() => template.RenderVariables(new Dictionary<string, object?>()));
        Assert.Contains(ChatTemplate.MaxOutputChars.ToString("N0", System.Globalization.CultureInfo.CurrentCulture), e.Message, StringComparison.Ordinal);
    }
}
