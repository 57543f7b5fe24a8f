using LmWrapper.Anthropic;
using LmWrapper.DependencyInjection;
using LmWrapper.Extensions.AI;
using LmWrapper.OpenAI;
using LmWrapper.OpenAI.DependencyInjection;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LmWrapper.Extensions.Tests;

public sealed class DependencyInjectionTests : IAsyncLifetime
{
    private const string SecretKey = "sk-di-secret-0123456789";
    private FakeOpenAiServer _openAi = null!;
    private FakeAnthropicServer _anthropic = null!;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lmwrapper-di-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        _openAi = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { ValidApiKeys = [FakeOpenAiServer.DefaultApiKey, SecretKey] });
        _anthropic = new FakeAnthropicServer();
        await _anthropic.StartAsync();
        Directory.CreateDirectory(_dir);
    }

    public async Task DisposeAsync()
    {
        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task KeyedModelsOfSeveralProvidersResolveAndTheFirstIsTheDefault()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b
            .AddOpenAi("fast", o =>
            {
                o.Model = OpenAiModelNames.Gpt4oMini;
                o.ApiKey = FakeOpenAiServer.DefaultApiKey;
                o.BaseUrl = new Uri(_openAi.BaseUrl);
            })
            .AddClaude("smart", o =>
            {
                o.Model = ClaudeModelNames.Claude35Haiku.Name;
                o.ApiKey = FakeAnthropicServer.DefaultApiKey;
                o.BaseUrl = _anthropic.BaseUrl;
            }));
        await using var provider = services.BuildServiceProvider();

        var fast = provider.GetRequiredKeyedService<LanguageModel>("fast");
        var smart = provider.GetRequiredKeyedService<LanguageModel>("smart");
        Assert.IsType<OpenAiLm>(fast);
        Assert.IsType<ClaudeLm>(smart);
        Assert.Same(fast, provider.GetRequiredKeyedService<LanguageModel>("fast")); // one per name
        Assert.Same(fast, provider.GetRequiredService<LanguageModel>());
        Assert.Equal("2+2 is equal to 4.", (await fast.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 })).CompletionText);
        Assert.False((await smart.PredictAsync(new LmPrompt("Define 'anthropology'.") { MaxTokens = 20 })).HasErrors);
        Assert.Null(provider.GetKeyedService<LanguageModel>("missing"));
    }

    [Fact]
    public async Task TheHostsMeterFactoryOwnsTheModelsMeter()
    {
        var meters = new RecordingMeterFactory();
        var services = new ServiceCollection();
        services.AddSingleton<System.Diagnostics.Metrics.IMeterFactory>(meters);
        services.AddLmWrapper(b => b.AddOpenAi("fast", o =>
        {
            o.Model = OpenAiModelNames.Gpt4oMini;
            o.ApiKey = FakeOpenAiServer.DefaultApiKey;
            o.BaseUrl = new Uri(_openAi.BaseUrl);
        }));
        await using var provider = services.BuildServiceProvider();
        var lm = provider.GetRequiredService<LanguageModel>();

        long requests = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (meters.Created.Contains(instrument.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "lmwrapper.requests")
            {
                Interlocked.Add(ref requests, value);
            }
        });
        listener.Start();
        Assert.False((await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 })).HasErrors);

        Assert.Contains(meters.Created, m => m.Name == "LmWrapper");
        Assert.Equal(1, Interlocked.Read(ref requests));
    }

    private sealed class RecordingMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        public List<System.Diagnostics.Metrics.Meter> Created { get; } = [];

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options.Name, options.Version, options.Tags, scope: this);
            lock (Created)
            {
                Created.Add(meter);
            }
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in Created)
            {
                m.Dispose();
            }
        }
    }

    [Fact]
    public async Task SetDefaultModelChoosesTheUnkeyedOneAndNoModelIsAClearError()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b
            .AddModel("a", _ => new MockLm(name: "a"))
            .AddModel("b", _ => new MockLm(name: "b"))
            .SetDefaultModel("b"));
        await using var provider = services.BuildServiceProvider();
        Assert.Equal("mock/b", provider.GetRequiredService<LanguageModel>().ModelIdentity);

        var empty = new ServiceCollection();
        empty.AddLmWrapper(_ => { });
        await using var none = empty.BuildServiceProvider();
        var e = Assert.Throws<InvalidOperationException>(() => none.GetRequiredService<LanguageModel>());
        Assert.Contains("AddLmWrapper", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADuplicateNameIsRefusedAtRegistration()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddModel("same", _ => new MockLm()));
        var e = Assert.Throws<ArgumentException>(() => services.AddLmWrapper(b => b.AddOpenAi("same", o => o.Model = "gpt-4o-mini")));
        Assert.Contains("'same'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SettingsBindFromConfigurationAndCodeWins()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LmWrapper:Models:fast:Model"] = OpenAiModelNames.Gpt4oMini,
            ["LmWrapper:Models:fast:ApiKey"] = SecretKey,
            ["LmWrapper:Models:fast:BaseUrl"] = _openAi.BaseUrl,
            ["LmWrapper:Models:fast:CacheByDefault"] = "true",
            ["LmWrapper:Models:fast:CachePath"] = Path.Combine(_dir, "cache.sqlite3"),
            ["LmWrapper:Models:fast:MaxConcurrency"] = "3",
            ["LmWrapper:Models:fast:RequestsPerMinute"] = "600",
            ["LmWrapper:Models:fast:RequestTimeout"] = "00:00:30",
            ["LmWrapper:Models:fast:Organization"] = "org-from-config",
        }).Build();
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddOpenAi("fast", configuration.GetSection("LmWrapper:Models:fast"), o => o.Organization = "org-from-code"));
        await using var provider = services.BuildServiceProvider();

        var settings = provider.GetRequiredService<IOptionsMonitor<OpenAiSettings>>().Get("fast");
        Assert.Equal(SecretKey, settings.ApiKey);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.RequestTimeout);
        Assert.Equal("org-from-code", settings.Organization);

        var lm = provider.GetRequiredKeyedService<LanguageModel>("fast");
        Assert.Equal(3, lm.Options.MaxConcurrency);
        Assert.True(lm.Options.CacheByDefault);
        Assert.Equal(600, lm.Options.RequestsPerMinute);
        Assert.Equal(Path.Combine(_dir, "cache.sqlite3"), lm.Cache.FilePath);

        var first = await lm.PredictAsync(new LmPrompt("What is 5+3?") { MaxTokens = 10 });
        var again = await lm.PredictAsync(new LmPrompt("What is 5+3?") { MaxTokens = 10 });
        Assert.Equal("5+3 is equal to 8.", first.CompletionText);
        Assert.True(again.WasCached);
        var sent = _openAi.Requests.Single(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.Equal("org-from-code", sent.Headers["openai-organization"]);
        Assert.Equal(SecretKey[^4..], sent.ApiKeySuffix);
    }

    [Fact]
    public async Task InvalidSettingsAreAnOptionsValidationExceptionNamingEachProblemButNeverTheKey()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddOpenAi("broken", o =>
        {
            o.ApiKey = SecretKey + "\n";
            o.MaxConcurrency = 0;
            o.BaseUrl = new Uri("ftp://example.com/");
        }));
        await using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<LanguageModel>("broken"));
        Assert.Contains("LmWrapper model 'broken': Model is required", e.Message, StringComparison.Ordinal);
        Assert.Contains("MaxConcurrency", e.Message, StringComparison.Ordinal);
        Assert.Contains("ApiKey contains a control character", e.Message, StringComparison.Ordinal);
        Assert.Contains("BaseUrl", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretKey, e.ToString(), StringComparison.Ordinal);

        // The validation runs at host start too (ValidateOnStart registers a startup validator).
        var startup = provider.GetRequiredService<IStartupValidator>();
        Assert.Throws<OptionsValidationException>(startup.Validate);
    }

    [Fact]
    public async Task TheKeyNeverAppearsInLogsOrInToString()
    {
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddLmWrapper(b => b.AddOpenAi("fast", o =>
        {
            o.Model = OpenAiModelNames.Gpt4oMini;
            o.ApiKey = SecretKey;
            o.BaseUrl = new Uri(_openAi.BaseUrl);
        }).ExposeAsChatClients());
        await using var provider = services.BuildServiceProvider();

        var lm = provider.GetRequiredKeyedService<LanguageModel>("fast");
        await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 });
        var chat = new ChatClientBuilder(provider.GetRequiredKeyedService<IChatClient>("fast")).UseLogging(provider.GetRequiredService<ILoggerFactory>()).Build();
        await chat.GetResponseAsync("What is 3+3?");
        _openAi.EnqueueFault(FakeOpenAiFault.ServerError());
        await lm.PredictAsync(new LmPrompt("What is 4+4?") { MaxTokens = 10 });   // a failure is logged too

        Assert.Contains(logs.Lines, l => l.Contains("System.Net.Http.HttpClient.LmWrapper.fast", StringComparison.Ordinal)); // IHttpClientFactory's client was used
        var settings = provider.GetRequiredService<IOptionsMonitor<OpenAiSettings>>().Get("fast");
        Assert.Contains("ApiKey = (set, hidden)", settings.ToString(), StringComparison.Ordinal);
        foreach (string text in new[] { logs.All, settings.ToString(), lm.ToString()!, lm.Options.ToString() })
        {
            Assert.DoesNotContain(SecretKey, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task RequestsGoThroughTheNamedHttpClientFactoryClient()
    {
        var handler = new CountingHandler();
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddOpenAi("fast", o =>
        {
            o.Model = OpenAiModelNames.Gpt4oMini;
            o.ApiKey = FakeOpenAiServer.DefaultApiKey;
            o.BaseUrl = new Uri(_openAi.BaseUrl);
        }));
        services.AddHttpClient(LmWrapperBuilder.HttpClientNameFor("fast")).AddHttpMessageHandler(() => handler);
        await using var provider = services.BuildServiceProvider();
        var lm = provider.GetRequiredKeyedService<LanguageModel>("fast");
        await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 });
        Assert.Equal(1, handler.Count);
    }

    [Fact]
    public async Task AChatClientRegistersAsAModelAndModelsAsChatClients()
    {
        var hand = new RecordingChatClient();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Model"] = "hand-model",
            ["TokenLimit"] = "8192",
            ["InputPricePerMillion"] = "1",
            ["OutputPricePerMillion"] = "4",
        }).Build();
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b
            .AddChatClient("hand", _ => hand, configuration)
            .AddModel("mock", _ => new MockLm(name: "di", isChatModel: true))
            .ExposeAsChatClients());
        await using var provider = services.BuildServiceProvider();

        var lm = Assert.IsType<ChatClientLanguageModel>(provider.GetRequiredKeyedService<LanguageModel>("hand"));
        Assert.Equal(8192, lm.TokenLimit);
        var prediction = await lm.PredictAsync(new LmPrompt("hello"));
        Assert.Equal("echo: hello", prediction.CompletionText);
        Assert.Equal(new Costs.LmTokenPrices(1, 4).CostOf(prediction.Usage!), lm.CostOf(prediction));

        var chat = provider.GetRequiredKeyedService<IChatClient>("mock");
        Assert.Equal("how are you", (await chat.GetResponseAsync("how are you")).Text);
        Assert.Same(provider.GetRequiredKeyedService<LanguageModel>("mock"), chat.GetService<LanguageModel>());
        Assert.Same(lm, provider.GetRequiredService<IChatClient>().GetService<LanguageModel>()); // the default model
    }

    [Fact]
    public async Task DisposingTheProviderDisposesTheModelsOnce()
    {
        var services = new ServiceCollection();
        services.AddLmWrapper(b => b.AddOpenAi("fast", o =>
        {
            o.Model = OpenAiModelNames.Gpt4oMini;
            o.ApiKey = FakeOpenAiServer.DefaultApiKey;
            o.BaseUrl = new Uri(_openAi.BaseUrl);
        }));
        var provider = services.BuildServiceProvider();
        var lm = provider.GetRequiredService<LanguageModel>();
        await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 });
        await provider.DisposeAsync();
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        private int _count;

        public int Count => _count;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
