import type { JsonSchema } from '../../../prompts/json-schema-support.js';
import type { TrafficClass } from '../../../prompts/task-definitions.js';

/** A turn of the conversation the client sent. */
export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface GenerationInput {
  /** The first system turn: kept evaluated between requests (the cached prefix). */
  system: string;
  /** Further system turns after it (a client's own instructions); not cached. */
  instructions: readonly string[];
  /** Oldest first; the oldest are dropped to fit `maxInputTokens`, never the last. */
  messages: readonly ChatTurn[];
  maxInputTokens: number;
  maxTokens: number;
  /** Generation stops once the reply is longer than this (characters). */
  maxChars: number;
  /**
   * Generation ends before the first of these strings (never part of the text); text that may be
   * the start of one is held back from onText until it is known not to be.
   */
  stop?: readonly string[];
  /**
   * Hold generation to a JSON object (with `schema`, one valid against it) by a grammar. Generation
   * ends with the JSON value, whatever white space the grammar would let follow it; finishReason
   * is then `stop` only for a complete, valid answer.
   */
  json?: { schema?: JsonSchema };
  /** Called with each new piece of text as it is decoded (never a split character, never past maxChars). */
  onText?: (delta: string) => void;
  /** Who waits on the reply (see TrafficClass); default interactive. */
  trafficClass?: TrafficClass;
}

export interface Generation {
  /** As decoded (trimmed of leading white space); fitting it to maxChars is the caller's choice. */
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** From the call until the request's own tokens began to be evaluated (its wait for a sequence, and a cold prefix). */
  queueMs: number;
  /** From the call until the first generated token; undefined when none was generated. */
  firstTokenMs?: number;
}
