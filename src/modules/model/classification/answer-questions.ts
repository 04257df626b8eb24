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

/** How a text's evaluations are cut into decode batches, and meet other sequences' (throughput mode). */
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
  /**
   * The text is its one question's alone: without padding too, the question is evaluated in one
   * go with the text (in the same pieces, the last one's logits read), one decode fewer.
   */
  ownText?: boolean;
}

/** `tokens` in pieces of `size`, counted from the start. */
function inPieces(tokens: readonly Token[], size: number): (readonly Token[])[] {
  const pieces: (readonly Token[])[] = [];
  for (let start = 0; start < tokens.length; start += size) pieces.push(tokens.slice(start, start + size));
  return pieces;
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
 * evaluates them as one micro-batch. With `ownText` (one question, whose text no other shares) the
 * question is evaluated with the text's last piece in both modes.
 */
export async function answerQuestions(
  sequence: LlamaContextSequence,
  text: readonly Token[],
  questions: readonly TokenizedQuestion[],
  vocabulary: LabelVocabulary,
  turn: DecodeTurn,
  signal?: AbortSignal,
  { padding, priority, chunkTokens = Infinity, ownText = false }: SharedBatchOptions = {},
): Promise<LabelAnswer[]> {
  const textStart = sequence.nextTokenIndex;
  const textEnd = textStart + text.length;
  const ask = (tokens: readonly Token[], labels: readonly string[], filler: number | undefined) =>
    inTurn(turn, signal, async () => {
      const { chosen, scores } = await chooseLabel(sequence, tokens, labels, vocabulary, filler, priority);
      await sequence.eraseContextTokenRanges([{ start: textEnd, end: sequence.nextTokenIndex }]);
      return { chosen, probabilities: softmax(scores) };
    });
  const firstFiller = await padding?.(text.length + questions[0].tokens.length);
  // Padded or its own, the text is evaluated with the first question: its last piece is the question's evaluation.
  const withFirst = padding !== undefined || ownText;
  const ahead = withFirst ? [...text, ...questions[0].tokens] : text;
  const pieces = padding === undefined ? inPieces(ahead, chunkTokens) : [ahead];
  for (const piece of withFirst ? pieces.slice(0, -1) : pieces)
    await inTurn(turn, signal, () => sequence.evaluateWithoutGeneratingNewTokens([...piece]));
  const answers: LabelAnswer[] = [];
  for (const [index, question] of questions.entries()) {
    const tokens = index === 0 && withFirst ? pieces[pieces.length - 1] : question.tokens;
    answers.push(await ask(tokens, question.labels, index === 0 ? firstFiller : undefined));
  }
  await sequence.eraseContextTokenRanges([{ start: textStart, end: sequence.nextTokenIndex }]);
  return answers;
}
