import { PromptModule, PromptTurn, TextContract } from './prompt-module.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatInput {
  messages: readonly ChatMessage[];
  maxChars: number;
}

export const chatPrompt: PromptModule<ChatInput, TextContract> = {
  name: 'chat',
  maxInputTokens: 1024,
  // Ceiling for CHAT_MAX_TOKENS (default 64); sequences are sized for it.
  maxOutputTokens: 256,
  output: { kind: 'text', maxChars: 60 },
  buildTurns: ({ messages, maxChars }): PromptTurn[] => [
    {
      role: 'system',
      content:
        'You are a friendly assistant in a website chat widget. ' +
        `Reply in the language of the user, in at most ${maxChars} characters, in one or two short sentences.`,
    },
    ...messages,
  ],
};
