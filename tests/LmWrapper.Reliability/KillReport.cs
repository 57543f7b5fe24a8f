namespace LmWrapper.Reliability;

/// <summary>What one crash-safety mode found.</summary>
/// <param name="Mode">"openai/asap", "claude/batch", ….</param>
/// <param name="Seed">The seed of its kill points.</param>
/// <param name="Kills">Kill points survived.</param>
/// <param name="Runs">Child processes started.</param>
/// <param name="Prompts">Prompts over all rounds.</param>
/// <param name="AnsweredOnce">Prompts the final run of their round answered exactly once, in order.</param>
/// <param name="PromptsLost">Prompts no final run answered.</param>
/// <param name="PaidTwice">Prompts paid again although their answer had reached the caller, or put in two batches.</param>
/// <param name="RepaidAfterKill">Immediate (ASAP) prompts paid twice because a kill lost the answer in flight (not cached yet): justified.</param>
/// <param name="IntegrityOk">Whether every cache passed <c>PRAGMA integrity_check</c>.</param>
/// <param name="Orphans">Journal rows, request files, provider files and batches left after the final runs.</param>
/// <param name="Log">What happened, run by run, with the seed.</param>
public sealed record KillReport(
    string Mode, int Seed, int Kills, int Runs, int Prompts, int AnsweredOnce, int PromptsLost, int PaidTwice, int RepaidAfterKill, bool IntegrityOk, int Orphans, string Log);
