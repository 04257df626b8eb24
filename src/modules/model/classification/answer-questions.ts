import type { EvaluationPriority, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { LabelAnswer } from './classification.types.js';
import { chooseLabel, LabelVocabulary, softmax } from './label-scoring.js';
import { RequestAbortedError } from '../model.errors.js';
import type { DecodeTurn } from '../scheduling/scheduler.js';

export interface TokenizedQuestion {
  tokens: readonly Token[];
  labels: readonly string[];
}

async function inTurn<T>(turn: DecodeTurn, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  const release = await turn();
  try {
    if (signal?.aborted) throw new RequestAbortedError(signal.reason);
    return await work();
  } finally {
    release();
  }
}

/** How a text's evaluations meet other sequences' in shared batches (throughput mode). */
export interface SharedBatchOptions {
  /**
   * Given the tokens of the first evaluation (text and first question), how many filler tokens to
   * add after them; waited for outside the decode lock, as a round may gather for a few milliseconds.
   */
  padding?: (firstTokens: number) => Promise<number>;
  /** Places the evaluations among other sequences' in a batch (see sequencePriority). */
  priority?: EvaluationPriority;
  /**
   * Without padding: the text is evaluated in pieces of this many tokens, counted from its start,
   * each in a turn of its own, so other work waits for at most one piece, not a whole long text.
   * At BATCH_SIZE the pieces are exactly the decode batches one evaluation of the text makes, so
   * the answers are the same as evaluating it whole.
   */
  chunkTokens?: number;
}

/**
 * Evaluates a text after the prefix the sequence holds, then asks each question after it: the
 * question's label logits are read and it is erased back to the end of the text, so every question
 * sees the text exactly as if it were asked alone. Afterwards the sequence holds its prefix only.
 *
 * Without `padding` (the default, deterministic mode) the text and each question take a turn at the
 * decode lock of their own, so their batches hold the same tokens whoever else is waiting, and a
 * question's answer is bit for bit the same whether it is asked alone or among others. With
 * `padding` (throughput mode, texts of a round on several sequences at once) the text and the first
 * question are evaluated together, followed by as many filler tokens as `padding` gives, so that
 * sequences of a round with similar lengths bring the same number of tokens and llama.cpp
 * evaluates them as one micro-batch.
 */
export async function answerQuestions(
  sequence: LlamaContextSequence,
  text: readonly Token[],
  questions: readonly TokenizedQuestion[],
  vocabulary: LabelVocabulary,
  turn: DecodeTurn,
  signal?: AbortSignal,
  { padding, priority, chunkTokens = Infinity }: SharedBatchOptions = {},
): Promise<LabelAnswer[]> {
  const textStart = sequence.nextTokenIndex;
  const textEnd = textStart + text.length;
  const ask = (question: TokenizedQuestion, filler: number | undefined) =>
    inTurn(turn, signal, async () => {
      const tokens = filler === undefined ? question.tokens : [...text, ...question.tokens];
      const { chosen, scores } = await chooseLabel(sequence, tokens, question.labels, vocabulary, filler, priority);
      await sequence.eraseContextTokenRanges([{ start: textEnd, end: sequence.nextTokenIndex }]);
      return { chosen, probabilities: softmax(scores) };
    });
  const answers: LabelAnswer[] = [];
  const firstFiller = await padding?.(text.length + questions[0].tokens.length);
  if (padding === undefined)
    for (let start = 0; start < text.length; start += chunkTokens) {
      const chunk = text.slice(start, start + chunkTokens);
      await inTurn(turn, signal, () => sequence.evaluateWithoutGeneratingNewTokens([...chunk]));
    }
  for (const [index, question] of questions.entries())
    answers.push(await ask(question, index === 0 ? firstFiller : undefined));
  await sequence.eraseContextTokenRanges([{ start: textStart, end: sequence.nextTokenIndex }]);
  return answers;
}
