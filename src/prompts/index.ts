import { chatPrompt } from './chat.prompt.js';
import { sentimentPrompt } from './sentiment.prompt.js';

/** Every task the service runs. The model module sizes sequences and checks label sets from this list. */
export const PROMPT_MODULES = [sentimentPrompt, chatPrompt] as const;

/** Per-sequence context: the largest prompt plus the largest answer any task may need. */
export const SEQUENCE_CONTEXT_SIZE =
  Math.ceil(Math.max(...PROMPT_MODULES.map((m) => m.maxInputTokens + m.maxOutputTokens)) / 256) * 256;
