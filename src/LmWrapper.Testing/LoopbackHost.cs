using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Testing;

/// <summary>The Kestrel host every fake server runs in: 127.0.0.1 at a free port, and never any other address.</summary>
internal static class LoopbackHost
{
    /// <summary>Starts a host that sends every request to <paramref name="handle"/>.</summary>
    /// <param name="handle">The server's request handler.</param>
    /// <param name="configure">Server-specific settings (request size limits), or null.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running host and its address ("http://127.0.0.1:PORT", no trailing slash).</returns>
    public static async Task<(WebApplication App, string Address)> StartAsync(
        RequestDelegate handle, Action<WebApplicationBuilder>? configure, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });

        // Nothing from the host's appsettings.json, ASPNETCORE_* variables or command line (a Kestrel endpoint there
        // would win over UseUrls): the fake listens on loopback only, whatever project it runs in.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        configure?.Invoke(builder);
        var app = builder.Build();
        app.Run(handle);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, address.TrimEnd('/'));
    }

    /// <summary>Stops and disposes a host.</summary>
    /// <param name="app">The host.</param>
    public static async ValueTask StopAsync(WebApplication app)
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
