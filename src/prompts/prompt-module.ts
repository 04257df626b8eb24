/** One turn of a prompt, before the model's chat template is applied. */
export interface PromptTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The answer is exactly one label of a closed set, chosen by scoring, never parsed from free text. */
export interface LabelContract {
  kind: 'labels';
  labels: readonly string[];
}

/** The answer is free text, capped in tokens while decoding and in characters afterwards. */
export interface TextContract {
  kind: 'text';
  maxChars: number;
}

/**
 * A task served by prompting the shared model: data plus the small function that places the
 * request's content into turns. Adding a task means adding one of these and registering it.
 */
export interface PromptModule<Input, Contract extends LabelContract | TextContract = LabelContract | TextContract> {
  name: string;
  /** Budget for the whole rendered prompt (system prompt and template included). */
  maxInputTokens: number;
  maxOutputTokens: number;
  output: Contract;
  buildTurns(input: Input): PromptTurn[];
}
