import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ClassificationLease } from '../scheduling/scheduler.js';
import { settleAll } from '../scheduling/settle-all.js';

/**
 * Answers every question about one text (`item`) on a sequence; with `padding`, its first
 * evaluation is padded to meet the other sequences of its round (see answerQuestions).
 */
export type AnswerText = (
  sequence: LlamaContextSequence,
  item: number,
  padding?: (firstTokens: number) => Promise<number>,
) => Promise<void>;

const shortestFirst = (texts: readonly (readonly Token[])[]) =>
  texts.map((_, item) => item).sort((a, b) => texts[a].length - texts[b].length);

/**
 * Deterministic mode: the texts one after another on the request's one sequence, shortest first,
 * each evaluation in an exclusive turn (the lease's), so its batches hold its tokens alone and the
 * same text always gets bit-identical answers.
 */
export async function answerOneByOne(
  lease: ClassificationLease,
  texts: readonly (readonly Token[])[],
  answer: AnswerText,
): Promise<void> {
  const [sequence] = lease.sequences;
  for (const item of shortestFirst(texts)) await answer(sequence, item);
}

/**
 * Throughput mode: rounds of similar-length texts, one per sequence, padded to the round's longest
 * so llama.cpp evaluates the round's first decode as one micro-batch; a single text joins a
 * gathered round of other requests instead (see RoundGatherer). Repeatable only to float rounding.
 */
export async function answerInRounds(
  lease: ClassificationLease,
  texts: readonly (readonly Token[])[],
  answer: AnswerText,
): Promise<void> {
  const { sequences, gather } = lease;
  if (gather) return answer(sequences[0], 0, gather);
  const order = shortestFirst(texts);
  for (let start = 0; start < order.length; start += sequences.length) {
    const round = order.slice(start, start + sequences.length);
    const longest = Math.max(...round.map((item) => texts[item].length));
    await settleAll(round.map((item, k) => answer(sequences[k], item, async () => longest - texts[item].length)));
  }
}
