import type { ControlledEvaluateIndexOutput, ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp';

/** Asks for the logits of `candidates` (and the row's maximum and total weight) after `token`. */
function withNextLogits(token: Token, candidates: readonly Token[]): ControlledEvaluateInputItem {
  return [token, { generateNext: { logits: { filter: { tokens: candidates, includeMax: true } }, totalLogitWeight: true } }];
}

/** log p(token) from a filtered logit row: logit − max − ln Σ exp(logit − max). */
function logProbability(output: ControlledEvaluateIndexOutput | undefined, token: Token): number {
  const logits = output?.next.logits;
  const totalWeight = output?.next.totalLogitWeight;
  const logit = logits?.get(token);
  if (!logits || totalWeight === undefined || logit === undefined) throw new Error('llama.cpp returned no logits for a label token');
  const maxLogit = logits.values().next().value as number; // the map is sorted, highest first
  return logit - maxLogit - Math.log(totalWeight);
}

/**
 * Scores each label as the log-probability of its whole token sequence right after the prompt,
 * in one pass over the prompt's remaining tokens (the sequence may already hold its prefix).
 * Labels of several tokens get one extra evaluation of their own tokens, erased again before the
 * next label. The caller holds the sequence and the decode lock.
 */
export async function scoreLabelSequences(
  sequence: LlamaContextSequence,
  rest: readonly Token[],
  labels: readonly (readonly Token[])[],
): Promise<number[]> {
  const firstTokens = [...new Set(labels.map((tokens) => tokens[0]))];
  const promptItems: ControlledEvaluateInputItem[] = [...rest.slice(0, -1), withNextLogits(rest[rest.length - 1], firstTokens)];
  const promptOutput = (await sequence.controlledEvaluate(promptItems))[rest.length - 1];
  const promptEnd = sequence.nextTokenIndex;
  const scores: number[] = [];
  for (const tokens of labels) {
    let score = logProbability(promptOutput, tokens[0]);
    if (tokens.length > 1) {
      const steps = await sequence.controlledEvaluate(tokens.slice(0, -1).map((token, i) => withNextLogits(token, [tokens[i + 1]])));
      for (let i = 1; i < tokens.length; i++) score += logProbability(steps[i - 1], tokens[i]);
      await sequence.eraseContextTokenRanges([{ start: promptEnd, end: sequence.nextTokenIndex }]);
    }
    scores.push(score);
  }
  return scores;
}

/** Softmax over the allowed labels only: the confidence of a label among its alternatives. */
export function softmax(scores: readonly number[]): number[] {
  const max = Math.max(...scores);
  const weights = scores.map((s) => Math.exp(s - max));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Token sequences of a closed label set; no label may tokenize to a prefix of another, or scores would not be comparable. */
export function checkLabelTokens(labels: readonly string[], tokens: readonly (readonly Token[])[]): void {
  tokens.forEach((a, i) =>
    tokens.forEach((b, j) => {
      if (i !== j && a.length <= b.length && a.every((t, k) => t === b[k])) {
        throw new Error(`label "${labels[i]}" tokenizes to a prefix of label "${labels[j]}"; rename one of them`);
      }
    }),
  );
}
