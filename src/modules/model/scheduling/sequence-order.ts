import type { CustomBatchingPrioritizationStrategy, EvaluationPriority } from 'node-llama-cpp';

/**
 * node-llama-cpp gives each sequence its own KV stream (kv_unified = false), so llama.cpp cuts a
 * batch of several sequences into micro-batches, each a full forward pass, of sequences whose ids
 * rise by exactly one in batch order. node-llama-cpp adds its queued evaluations to a batch in
 * arrival order and shows its prioritization strategy only their priorities (1 to 5), not their
 * sequences: so a sequence's evaluations carry a priority falling with its id, and the strategy
 * sorts by it. That orders the first five sequences; the rest (priority 1) stay in arrival order.
 */
export function sequencePriority(order: number): EvaluationPriority {
  return Math.max(1, 5 - order) as EvaluationPriority;
}

/**
 * Like node-llama-cpp's default (maximumParallelism: every item an equal share of the batch) after
 * a stable sort by descending priority, which puts sequences in id order (see sequencePriority).
 */
export const sequenceOrderStrategy: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
  const ordered = [...items].sort((a, b) => b.evaluationPriority - a.evaluationPriority);
  const share = Math.max(1, Math.floor(size / ordered.length));
  let left = size;
  const prioritized = ordered.map((item) => {
    const processAmount = Math.min(item.tokens.length, share, left);
    left -= processAmount;
    return { item, processAmount };
  });
  // What is left goes to the clipped items in equal parts only: an uneven remainder would cost
  // llama.cpp one more micro-batch for a few tokens.
  for (;;) {
    const clipped = prioritized.filter((entry) => entry.processAmount < entry.item.tokens.length);
    const more = clipped.length > 0 ? Math.floor(left / clipped.length) : 0;
    if (more === 0) break;
    for (const entry of clipped) {
      const added = Math.min(more, entry.item.tokens.length - entry.processAmount);
      entry.processAmount += added;
      left -= added;
    }
  }
  return prioritized.filter((entry) => entry.processAmount > 0);
};
