import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { ClassificationLease, ClassificationRequest, Scheduler } from '../scheduling/scheduler.js';
import { settleAll } from '../scheduling/settle-all.js';

/**
 * Answers every question about one text (`item`) on a sequence of the lease; with `padding`, its
 * first evaluation is padded to meet the other sequences of its round (see answerQuestions).
 */
export type AnswerText = (
  lease: ClassificationLease,
  sequence: LlamaContextSequence,
  item: number,
  padding?: (firstTokens: number) => Promise<number>,
) => Promise<void>;

/** What every piece of one classification request shares when it is scheduled. */
export type TextsRequest = Pick<ClassificationRequest, 'prefix' | 'trafficClass' | 'admitted' | 'ticket'>;

const shortestFirst = (texts: readonly (readonly Token[])[]) =>
  texts.map((_, item) => item).sort((a, b) => texts[a].length - texts[b].length);

/**
 * Deterministic mode: each text is scheduled on its own, shortest first: it waits in line, holds
 * one sequence while its evaluations take exclusive turns (its batches hold its tokens alone, so
 * the same text always gets bit-identical answers), and gives the sequence back, so work of a
 * higher class, or another request, can run between two texts of a batch. Resolves with the first
 * text's wait: the request's queueing.
 */
export async function answerOneByOne(
  scheduler: Scheduler,
  request: TextsRequest,
  texts: readonly (readonly Token[])[],
  answer: AnswerText,
  signal?: AbortSignal,
): Promise<number> {
  let waitedMs: number | undefined;
  for (const [place, item] of shortestFirst(texts).entries()) {
    const piece = { ...request, texts: 1, shareBatches: false, admitted: request.admitted || place > 0 };
    const run = await scheduler.runClassification(piece, (lease) => answer(lease, lease.sequences[0], item), signal);
    waitedMs ??= run.waitedMs;
  }
  return waitedMs!;
}

/**
 * Throughput mode: rounds of similar-length texts, one per sequence idle when the round starts,
 * padded to the round's longest so llama.cpp evaluates its first decode as one micro-batch; each
 * round is scheduled on its own. A request of one text joins a gathered round of other requests
 * instead (see RoundGatherer). Repeatable only to float rounding. Resolves with the first round's wait.
 */
export async function answerInRounds(
  scheduler: Scheduler,
  request: TextsRequest,
  texts: readonly (readonly Token[])[],
  answer: AnswerText,
  signal?: AbortSignal,
): Promise<number> {
  const order = shortestFirst(texts);
  let waitedMs: number | undefined;
  for (let start = 0; start < order.length;) {
    const piece = {
      ...request,
      texts: order.length - start,
      shareBatches: true,
      gather: texts.length === 1,
      admitted: request.admitted || start > 0,
    };
    const run = await scheduler.runClassification(
      piece,
      async (lease) => {
        const round = order.slice(start, start + lease.sequences.length);
        if (lease.gather) await answer(lease, lease.sequences[0], round[0], lease.gather);
        else {
          const longest = Math.max(...round.map((item) => texts[item].length));
          const padding = (item: number) => async () => longest - texts[item].length;
          await settleAll(round.map((item, k) => answer(lease, lease.sequences[k], item, padding(item))));
        }
        return round.length;
      },
      signal,
    );
    start += run.result;
    waitedMs ??= run.waitedMs;
  }
  return waitedMs!;
}
