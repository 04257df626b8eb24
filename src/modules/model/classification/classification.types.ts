import type { TrafficClass } from '../../../prompts/task-definitions.js';

/** One question asked about every text of a classification: the text after it, the labels it allows. */
export interface LabelQuestion {
  /** Follows the text in the same user turn. */
  prompt: string;
  labels: readonly string[];
  /** Budget for the whole prompt up to the answer (start, text and this question). */
  maxInputTokens: number;
}

/**
 * Texts to classify, each under one or more questions. The start (system prompt and the opening of
 * the user turn, ending in `lead`) and the `trail` after each text are the same whatever the
 * questions, so each text is evaluated once with its trail and every question after it on its own.
 */
export interface ClassificationInput {
  system: string;
  lead: string;
  texts: readonly string[];
  trail: string;
  questions: readonly LabelQuestion[];
  /** Who waits on the answers (see TrafficClass); default batch. */
  trafficClass?: TrafficClass;
}

export interface LabelAnswer {
  /** Index of the label grammar-constrained greedy decoding would emit. */
  chosen: number;
  /** Per label: softmax over the allowed labels of the best logit of a token starting each. */
  probabilities: number[];
}

export interface ClassifiedText {
  /** Tokens evaluated for this text: the start, the text and every question. */
  promptTokens: number;
  /** From the call until the request's own tokens began to be evaluated (the same for every text of a request). */
  queueMs: number;
  answers: LabelAnswer[];
}
