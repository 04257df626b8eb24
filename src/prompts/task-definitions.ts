/**
 * Who waits on a task's answers: `interactive` work (a person in a chat widget, a live screen) goes
 * before `batch` work (triage back ends, backfills) wherever work waits for the model.
 */
export const TRAFFIC_CLASSES = ['interactive', 'batch'] as const;
export type TrafficClass = (typeof TRAFFIC_CLASSES)[number];

/** The class of a task that does not name one: chat tasks are interactive, the others batch. */
export const DEFAULT_TRAFFIC_CLASS: Record<TaskDefinition['kind'], TrafficClass> = {
  classify: 'batch',
  chat: 'interactive',
  extract: 'batch',
};

/**
 * Where a classify task's question sits around the text. `text-first`: a start every such task
 * shares, the text, then the task's question, so a triage evaluates the text once for all of them.
 * `question-first`: the task's instruction and labels in its own system turn (kept cached), the text
 * as the user turn, then the answer, so a task asked alone evaluates only the text.
 */
export type ClassifyLayout = 'text-first' | 'question-first';

/** A classify task's layout when its entry names none (the built-in sentiment names question-first). */
export const DEFAULT_CLASSIFY_LAYOUT: ClassifyLayout = 'text-first';

/** A label the answer may be; the description, when given, is shown to the model. */
export interface LabelDefinition {
  name: string;
  description?: string;
}

/** Answers with one label of a closed set, chosen by scoring, never parsed from free text. */
export interface ClassifyTask {
  name: string;
  kind: 'classify';
  class: TrafficClass;
  instruction: string;
  labels: readonly LabelDefinition[];
  layout: ClassifyLayout;
  /** Below it the answer is abstained; undefined: never. */
  minConfidence?: number;
  maxInputTokens: number;
}

/** Answers with a short free-text reply in the task's persona. */
export interface ChatTask {
  name: string;
  kind: 'chat';
  class: TrafficClass;
  persona: string;
  maxChars: number;
  maxTokens: number;
  maxInputTokens: number;
}

/** Answers with a JSON object valid against the task's schema: what its instruction asks to extract. */
export interface ExtractTask {
  name: string;
  kind: 'extract';
  class: TrafficClass;
  instruction: string;
  /** A JSON schema; only keywords the generation grammar enforces (see json-schema-support.ts). */
  schema: Record<string, unknown>;
  maxTokens: number;
  maxInputTokens: number;
}

export type TaskDefinition = ClassifyTask | ChatTask | ExtractTask;
export type TaskKind = TaskDefinition['kind'];

export const DEFAULT_MAX_INPUT_TOKENS = 1024;
export const DEFAULT_CHAT_MAX_CHARS = 60;
export const DEFAULT_CHAT_MAX_TOKENS = 64;
export const DEFAULT_EXTRACT_MAX_TOKENS = 128;

/**
 * Tokens a sequence needs past a task's prompt budget: a reply or JSON answer (at most 256) or a
 * label's own tokens while its continuation is decoded (64 characters of up to 4 UTF-8 bytes each).
 */
export const MAX_OUTPUT_TOKENS = 256;

/** Per-sequence context for a set of tasks: the largest prompt plus the largest answer, in pages of 256. */
export function sequenceContextSize(tasks: readonly TaskDefinition[]): number {
  const largestPrompt = Math.max(...tasks.map((task) => task.maxInputTokens));
  return Math.ceil((largestPrompt + MAX_OUTPUT_TOKENS) / 256) * 256;
}
