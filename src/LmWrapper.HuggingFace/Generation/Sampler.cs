using System.Numerics.Tensors;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Picks the next token from a row of logits: greedy at temperature 0, otherwise temperature, then top-k, then top-p
/// (transformers' order), sampled from a seeded generator. Presence and frequency penalties (OpenAI's definition) are
/// applied to the logits first. Logprobs are always those of the model's raw distribution, except under a JSON
/// constraint, where the generator hands over logits with the disallowed tokens at -inf: then they are those of that
/// masked (renormalized) distribution, and masked tokens never appear among the alternatives.
/// </summary>
internal static class Sampler
{
    /// <summary>The next token id.</summary>
    public static int Choose(ReadOnlySpan<float> logits, GenerationRequest settings, Random? random, Dictionary<int, int>? counts)
    {
        double[]? adjusted = null;
        if (counts is { Count: > 0 } && (settings.PresencePenalty != 0 || settings.FrequencyPenalty != 0))
        {
            adjusted = new double[logits.Length];
            for (int i = 0; i < logits.Length; i++)
            {
                adjusted[i] = logits[i];
            }

            foreach (var (id, count) in counts)
            {
                adjusted[id] -= (count * settings.FrequencyPenalty) + settings.PresencePenalty;
            }
        }

        if (settings.Temperature == 0 || settings.TopP == 0 || random is null)
        {
            return adjusted is null ? ArgMax(logits) : ArgMax<double>(adjusted);
        }

        int n = logits.Length;
        double inv = 1.0 / settings.Temperature;
        var values = new double[n];
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            values[i] = (adjusted is null ? logits[i] : adjusted[i]) * inv;
            max = Math.Max(max, values[i]);
        }

        if (settings.TopK <= 0 && settings.TopP >= 1)
        {
            // The whole distribution: no ordering needed.
            double total = 0;
            for (int i = 0; i < n; i++)
            {
                values[i] = Math.Exp(values[i] - max);
                total += values[i];
            }

            double x = random.NextDouble() * total;
            for (int i = 0; i < n; i++)
            {
                x -= values[i];
                if (x < 0)
                {
                    return i;
                }
            }

            return n - 1;
        }

        // Candidates in descending order (ties by id), cut to top-k.
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is int c && c != 0 ? c : a.CompareTo(b));
        int keep = settings.TopK > 0 ? Math.Min(settings.TopK, n) : n;
        var probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++)
        {
            probs[i] = Math.Exp(values[order[i]] - max);
            sum += probs[i];
        }

        // Top-p: the smallest prefix whose mass reaches p (at least one token).
        if (settings.TopP < 1)
        {
            double cumulative = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[i] / sum;
                if (cumulative >= settings.TopP)
                {
                    cut = i + 1;
                    break;
                }
            }

            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++)
            {
                sum += probs[i];
            }
        }

        double u = random.NextDouble() * sum;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[i];
            if (u < 0)
            {
                return order[i];
            }
        }

        return order[keep - 1];
    }

    /// <summary>The index of the largest value (the first of equals, as torch.argmax).</summary>
    public static int ArgMax<T>(ReadOnlySpan<T> values)
        where T : System.Numerics.IComparisonOperators<T, T, bool>
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>log Σ exp(logits): the largest logit plus the log of the shifted exponentials' sum (vectorized float32 exponentials, summed in double).</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Min(logits.Length, 8192));
        try
        {
            double sum = 0;
            for (int i = 0; i < logits.Length; i += buffer.Length)
            {
                var slice = logits.Slice(i, Math.Min(buffer.Length, logits.Length - i));
                var t = buffer.AsSpan(0, slice.Length);
                TensorPrimitives.Subtract(slice, max, t);
                TensorPrimitives.Exp(t, t);
                sum += TensorPrimitives.Sum(t);
            }

            return max + Math.Log(sum);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>The <paramref name="k"/> most likely ids and their logprobs, most likely first.</summary>
    public static (int Id, double Logprob)[] Top(ReadOnlySpan<float> logits, int k, double logSumExp)
    {
        k = Math.Min(k, logits.Length);
        var best = new List<(int Id, float Logit)>(k + 1);
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (float.IsNegativeInfinity(v) || (best.Count == k && v <= best[^1].Logit))
            {
                continue;
            }

            int at = best.Count;
            while (at > 0 && best[at - 1].Logit < v)
            {
                at--;
            }

            best.Insert(at, (i, v));
            if (best.Count > k)
            {
                best.RemoveAt(k);
            }
        }

        return [.. best.Select(b => (b.Id, b.Logit - logSumExp))];
    }
}
