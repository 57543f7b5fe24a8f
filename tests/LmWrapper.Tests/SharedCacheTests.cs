using LmWrapper.Caching;

namespace LmWrapper.Tests;

/// <summary>The process-wide project cache: a failed open is not remembered, and no caller can close it for the others.</summary>
public sealed class SharedCacheTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ASharedCacheSurvivesACallersDispose()
    {
        var project = Directory.CreateDirectory(_dir.File("project"));
        File.WriteAllText(Path.Combine(project.FullName, ".lmwrapper"), "");
        using (var cache = LmCache.ForProject(project.FullName))
        {
            Assert.True(cache.IsShared);
            using var lm = new MockLm(p => "x", options: new LanguageModelOptions { Cache = cache, CacheByDefault = true });
            lm.Predict("stored before the dispose");
        }

        // The same instance, still open, with what was stored before the caller's dispose.
        var again = LmCache.ForProject(project.FullName);
        Assert.Same(again, LmCache.Shared(Path.Combine(project.FullName, LmCache.ProjectFolderName, LmCache.DefaultFileName)));
        Assert.Equal(1, again.GetStats().Entries);
        using var lm2 = new MockLm(p => "x", options: new LanguageModelOptions { Cache = again, CacheByDefault = true });
        Assert.True(lm2.Predict("stored before the dispose").WasCached);
    }

    [Fact]
    public void AnOwnedCacheIsClosedByDispose()
    {
        var cache = LmCache.Open(_dir.File("owned.sqlite3"));
        Assert.False(cache.IsShared);
        cache.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cache.GetStats());
    }

    [Fact]
    public void AFailedSharedOpenIsRetriedOnTheNextCall()
    {
        string file = _dir.File("later-fine.sqlite3");
        File.WriteAllBytes(file, [.. Enumerable.Range(0, 5000).Select(i => (byte)(i * 7))]);
        Assert.Throws<LmCacheException>(() => LmCache.Shared(file));
        Assert.Throws<LmCacheException>(() => LmCache.Shared(file)); // still looks at the file, which is still bad

        File.Delete(file);
        var cache = LmCache.Shared(file);
        Assert.Equal(0, cache.GetStats().Entries);
        Assert.Same(cache, LmCache.Shared(file));
    }

    [Fact]
    public void AModelWhoseCacheFailedToOpenTriesAgainOnTheNextUse()
    {
        using var good = LmCache.OpenInMemory();
        int opens = 0;
        using var lm = new MockLm(p => "answer", options: new LanguageModelOptions { CacheByDefault = true });
        lm.OpenProjectCache = () => ++opens == 1 ? throw new LmCacheException("x.sqlite3", "locked by an antivirus") : good;

        Assert.Throws<LmCacheException>(() => lm.Predict("q"));
        Assert.Equal(0, lm.CallCount); // the cache is looked up before anything is sent

        Assert.False(lm.Predict("q").WasCached);
        Assert.True(lm.Predict("q").WasCached);
        Assert.Same(good, lm.Cache);
        Assert.Equal(2, opens); // opened once it worked, then kept
    }
}
