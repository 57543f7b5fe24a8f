namespace LmWrapper.Costs;

/// <summary>What a prompt will cost before it runs (<see cref="LanguageModel.EstimateCost"/>): its input as estimated offline, its output at most.</summary>
/// <param name="InputTokens">The prompt's tokens (chat formatting included), times the requests it takes.</param>
/// <param name="MaxOutputTokens">The most tokens it may generate (max tokens times the number of completions).</param>
/// <param name="InputCost">Dollars for the input.</param>
/// <param name="MaxOutputCost">Dollars for the output if every completion runs to its token limit.</param>
public sealed record LmCostEstimate(int InputTokens, int MaxOutputTokens, decimal InputCost, decimal MaxOutputCost)
{
    /// <summary>The most the prompt can cost: input plus the largest output.</summary>
    public decimal MaxTotalCost => InputCost + MaxOutputCost;
}
