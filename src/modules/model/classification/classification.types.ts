import type { TrafficClass } from '../../../prompts/task-definitions.js';

/**
 * One question asked about every text of a classification, with the prompt around the text: the
 * start (system turn and the opening of the user turn, ending in `lead`; the cached prefix), the
 * text, `trail`, then `prompt` and the opening of the assistant's turn, whose next-token logits
 * give the label.
 *
 * A question's answer depends only on these fields and the text, whatever else is asked with it:
 * questions of the same start and trail share one evaluation of each text and are then asked after
 * it one by one (erased after each), unless `ownText` evaluates the text for this question alone.
 */
export interface LabelQuestion {
  system: string;
  lead: string;
  trail: string;
  /** Follows the trail in the same user turn. */
  prompt: string;
  /**
   * The text is this question's alone: it is evaluated in one go with the prompt and the assistant's
   * opening (one decode fewer), never shared with another question. Default: shared.
   */
  ownText?: boolean;
  labels: readonly string[];
  /** Budget for the whole prompt up to the answer (start, text, trail and prompt). */
  maxInputTokens: number;
}

/** Texts to classify, each under one or more questions. */
export interface ClassificationInput {
  texts: readonly string[];
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
  /** Tokens evaluated for this text: for each start it is evaluated after, the start, the text and its questions. */
  promptTokens: number;
  /** From the call until the request's own tokens began to be evaluated (the same for every text of a request). */
  queueMs: number;
  /** In the order of the input's questions. */
  answers: LabelAnswer[];
}
