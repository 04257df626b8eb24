import type { TokenBytes } from '../tokens/token-bytes.js';
import type {
  ControlledEvaluateIndexOutput,
  ControlledEvaluateInputItem,
  EvaluationPriority,
  Token,
} from 'node-llama-cpp';

/** What label scoring reads of the model (node-llama-cpp's LlamaModel): the vocabulary and its end tokens. */
export interface VocabularyModel {
  readonly fileInfo: {
    readonly metadata: { readonly tokenizer: { readonly ggml: { readonly tokens: { length: number } } } };
  };
  isEogToken(token: Token): boolean;
  detokenize(tokens: readonly Token[]): string;
}

/** What label scoring does with a sequence (node-llama-cpp's LlamaContextSequence). */
export interface ScoringSequence {
  readonly nextTokenIndex: number;
  controlledEvaluate(
    input: ControlledEvaluateInputItem[],
    options?: { evaluationPriority?: EvaluationPriority },
  ): Promise<Array<undefined | ControlledEvaluateIndexOutput>>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
}

/**
 * Text as a string of its UTF-8 bytes, one character per byte: labels and token pieces are compared
 * byte by byte, as llama.cpp's grammar matches them, because a token may stand for part of a
 * character (a CJK character often takes two tokens).
 */
const utf8Bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/**
 * For each label, the vocabulary tokens whose bytes continue it from each byte offset: the tokens
 * a grammar allowing only these labels lets the model emit there ("pos" as well as "positive", and
 * the first half of a Chinese character). Built by one scan of the vocabulary per new label
 * (~0.2 s for Qwen2's 151,936). Once the text is a whole label that another label extends ("no"
 * of "no" and "not sure"), the grammar may also end there: then the end-of-generation tokens are
 * allowed too. Labels and texts here are byte strings (see utf8Bytes).
 */
export class LabelVocabulary {
  private readonly continuations = new Map<string, Token[][]>();
  private readonly pieces = new Map<Token, string>();
  private endTokens?: Token[];
  /** Answers by text emitted and label set: bounded by the labels' prefixes times the label subsets in use. */
  private readonly allowed = new Map<string, Token[]>();

  constructor(
    private readonly model: VocabularyModel,
    private readonly tokenBytes?: TokenBytes,
  ) {}

  /** A token's bytes; without the vocabulary's bytes, its detokenized text's (exact for whole characters). */
  private bytesOf(token: Token): string {
    return this.tokenBytes
      ? Buffer.from(this.tokenBytes.of(token)).toString('latin1')
      : utf8Bytes(this.model.detokenize([token]));
  }

  /** Tokens that may come next when `text` has been emitted so far, given the allowed labels. */
  allowedAfter(text: string, labels: readonly string[]): Token[] {
    const key = `${text}\u0000${labels.join('\u0000')}`;
    let allowed = this.allowed.get(key);
    if (!allowed) {
      this.scan(labels);
      const tokens = new Set<Token>();
      for (const label of labels) {
        if (label.length > text.length && label.startsWith(text))
          for (const token of this.continuations.get(label)![text.length]) tokens.add(token);
      }
      if (text !== '' && labels.includes(text)) for (const token of this.endTokens!) tokens.add(token);
      this.allowed.set(key, (allowed = [...tokens].sort((a, b) => a - b)));
    }
    return allowed;
  }

  /** The bytes a label token adds; undefined for an end-of-generation token. */
  piece(token: Token): string | undefined {
    return this.pieces.get(token);
  }

  private scan(labels: readonly string[]): void {
    const missing = labels.filter((label) => !this.continuations.has(label));
    if (missing.length === 0) return;
    for (const label of missing)
      this.continuations.set(
        label,
        Array.from({ length: label.length }, () => []),
      );
    const endTokens: Token[] = [];
    const vocabularySize = this.model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    for (let token = 0 as Token; token < vocabularySize; token++) {
      // llama.cpp's grammar takes an end-of-generation token as an end, never as text, also one that
      // stands for text: Qwen2's "</s>" is a normal token in the file that llama.cpp makes an end.
      if (this.model.isEogToken(token)) {
        endTokens.push(token);
        continue;
      }
      const piece = this.bytesOf(token);
      if (!piece) continue;
      for (const label of missing) {
        for (let offset = 0; offset + piece.length <= label.length; offset++) {
          if (label.startsWith(piece, offset)) {
            this.continuations.get(label)![offset].push(token);
            this.pieces.set(token, piece);
          }
        }
      }
    }
    this.endTokens ??= endTokens;
  }
}

export interface LabelChoice {
  /** Index of the label grammar-constrained greedy decoding would emit. */
  chosen: number;
  /** Per label: the best logit, right after the prompt, of a token that starts it. The chosen label's is the highest. */
  scores: number[];
}

/** Asks for the logits of `candidates` after `token`. */
function withNextLogits(token: Token, candidates: readonly Token[]): ControlledEvaluateInputItem {
  return [token, { generateNext: { logits: { filter: { tokens: candidates } } } }];
}

function logitsOf(output: ControlledEvaluateIndexOutput | undefined): Map<Token, number> {
  const logits = output?.next.logits;
  if (!logits) throw new Error('llama.cpp returned no logits for the label tokens');
  return logits;
}

/** The highest logit among `allowed`; ties go to the lowest token id, as llama.cpp's greedy sampler does. */
function greedy(logits: Map<Token, number>, allowed: readonly Token[]): Token {
  let best = allowed[0];
  for (const token of allowed) if (logits.get(token)! > logits.get(best)!) best = token;
  return best;
}

/**
 * Classifies from one evaluation of the prompt's remaining tokens (the sequence may already hold
 * its prefix). The label is the one grammar-constrained greedy decoding would emit: the label
 * that the best allowed next token starts ("pos" decides "positive" as well as "positive" does);
 * only when that token starts several labels ("n": negative, neutral) is it evaluated and the best
 * continuation taken, and so on. Tokens evaluated after the prompt are erased again. The caller
 * holds the sequence and the decode lock.
 *
 * `padding` filler tokens after the prompt (its last token repeated; which one does not matter)
 * let prompts of different lengths on several sequences fill one micro-batch (see classify in
 * throughput mode). They come after the position whose logits are read, and attention is causal,
 * so they change nothing but the batch's shape (and with it, float rounding). `priority` places
 * the evaluations among other sequences' in a shared batch (see sequencePriority).
 */
export async function chooseLabel(
  sequence: ScoringSequence,
  rest: readonly Token[],
  labelTexts: readonly string[],
  vocabulary: LabelVocabulary,
  padding = 0,
  priority?: EvaluationPriority,
): Promise<LabelChoice> {
  const evaluate = (items: ControlledEvaluateInputItem[]) =>
    sequence.controlledEvaluate(items, { evaluationPriority: priority });
  const labels = labelTexts.map(utf8Bytes);
  let allowed = vocabulary.allowedAfter('', labels);
  const filler = Array<Token>(padding).fill(rest[rest.length - 1]);
  const promptItems: ControlledEvaluateInputItem[] = [
    ...rest.slice(0, -1),
    withNextLogits(rest[rest.length - 1], allowed),
    ...filler,
  ];
  let logits = logitsOf((await evaluate(promptItems))[rest.length - 1]);
  const promptEnd = sequence.nextTokenIndex - padding;
  const eraseAfterPrompt = async () => {
    if (sequence.nextTokenIndex > promptEnd)
      await sequence.eraseContextTokenRanges([{ start: promptEnd, end: sequence.nextTokenIndex }]);
  };
  await eraseAfterPrompt();
  const firstLogits = logits;
  const scores = labels.map((label) =>
    Math.max(...vocabulary.allowedAfter('', [label]).map((token) => firstLogits.get(token)!)),
  );

  let text = '';
  for (;;) {
    const token = greedy(logits, allowed);
    const piece = vocabulary.piece(token);
    // An end token is allowed only once the text is a whole label: the grammar ends on that label.
    if (piece === undefined) {
      await eraseAfterPrompt();
      return { chosen: labels.indexOf(text), scores };
    }
    text += piece;
    // Once one label alone starts with the text, every grammar path leads to it: no need to decode on.
    const reachable = labels.filter((label) => label.startsWith(text));
    if (reachable.length === 1) {
      await eraseAfterPrompt();
      return { chosen: labels.indexOf(reachable[0]), scores };
    }
    allowed = vocabulary.allowedAfter(text, labels);
    logits = logitsOf((await evaluate([withNextLogits(token, allowed)]))[0]);
  }
}

/** Softmax over the allowed labels only: the confidence of a label among its alternatives. */
export function softmax(scores: readonly number[]): number[] {
  const max = Math.max(...scores);
  const weights = scores.map((s) => Math.exp(s - max));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}
