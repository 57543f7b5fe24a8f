namespace LmWrapper.Cli.Running;

/// <summary>What <c>lmwrapper run</c> was asked to do.</summary>
/// <param name="InputPath">The JSONL file of prompts ("-" for standard input).</param>
/// <param name="OutputPath">The JSONL file of results (created, or completed when it exists).</param>
/// <param name="Window">ASAP requests or the provider's batch API.</param>
/// <param name="MaxCost">The most dollars to spend, or null for no limit.</param>
/// <param name="OnError">What to do with bad lines and failed prompts.</param>
internal sealed record RunSettings(string InputPath, string OutputPath, CompletionWindow Window, decimal? MaxCost, OnErrorMode OnError);
