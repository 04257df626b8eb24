import { chatPrompt } from './chat.prompt.js';
import { sentimentPrompt } from './sentiment.prompt.js';

/** Every task the service runs. The model module sizes sequences and checks label sets from this list. */
export const PROMPT_MODULES = [sentimentPrompt, chatPrompt] as const;
