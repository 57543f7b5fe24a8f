using System.Text;
using LmWrapper.Cli.Output;

namespace LmWrapper.Cli.Tests;

public class ResultsFileTests
{
    [Fact]
    public void A_new_file_is_created_and_lines_are_appended_whole()
    {
        using var dir = new TempDir();
        string path = dir.File("sub/out.jsonl");
        using (var f = ResultsFile.Open(path))
        {
            Assert.Empty(f.AnsweredLines);
            f.Append("""{"line":1,"completion_text":"a"}"""u8);
            f.Append("""{"line":2,"error":"x"}"""u8);

            // Flushed as written: another reader sees both lines before the file is closed.
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var text = new StreamReader(reader);
            Assert.Equal(2, text.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }

        using var again = ResultsFile.Open(path);
        Assert.Equal([1, 2], again.AnsweredLines.Order());
        Assert.Equal([2], again.FailedLines);
        Assert.Equal(0, again.CutBytes);
    }

    [Fact]
    public void A_torn_last_line_is_cut_and_the_next_line_starts_clean()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        const string torn = """{"line":3,"completion_te""";
        File.WriteAllText(path, "{\"line\":1}\n{\"line\":2}\n" + torn);

        using (var f = ResultsFile.Open(path))
        {
            Assert.Equal([1, 2], f.AnsweredLines.Order());
            Assert.Equal(Encoding.UTF8.GetByteCount(torn), f.CutBytes);
            f.Append("""{"line":3}"""u8);
        }

        Assert.Equal("{\"line\":1}\n{\"line\":2}\n{\"line\":3}\n", File.ReadAllText(path));
    }

    [Fact]
    public void A_whole_last_result_without_its_newline_is_kept()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        File.WriteAllText(path, "{\"line\":1}\n{\"line\":2}");

        using (var f = ResultsFile.Open(path))
        {
            Assert.Equal([1, 2], f.AnsweredLines.Order());
            f.Append("""{"line":3}"""u8);
        }

        Assert.Equal("{\"line\":1}\n{\"line\":2}\n{\"line\":3}\n", File.ReadAllText(path));
    }

    [Fact]
    public void A_complete_line_that_is_not_a_result_is_refused_and_the_file_left_alone()
    {
        using var dir = new TempDir();
        string path = dir.File("out.jsonl");
        const string content = "{\"line\":1}\nsomething else\n{\"line\":3}\n";
        File.WriteAllText(path, content);

        var e = Assert.Throws<CliUsageException>(() => ResultsFile.Open(path));
        Assert.Contains("Line 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(path));
    }
}
