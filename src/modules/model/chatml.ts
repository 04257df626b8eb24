import type { LlamaModel, Token } from 'node-llama-cpp';
import type { PromptTurn } from '../../prompts/prompt-module.js';

const TURN_START = '<|im_start|>';
const TURN_END = '<|im_end|>';

/** A rendered prompt and how many of its first tokens are the system turn, shared by every request of a task. */
export interface Prompt {
  tokens: Token[];
  prefixLength: number;
}

/**
 * Renders turns with Qwen2.5's ChatML template, ending with an open assistant turn. Text from the
 * request is tokenized with special tokens off, so a client writing "<|im_end|>" gets plain text,
 * never a turn boundary. Text between two special tokens is tokenized as one piece, exactly as
 * llama.cpp tokenizes the model's own template. Also marks where the system turn (and its trailing
 * newline) ends: those tokens are the same for every request of a task.
 */
export function renderChatMlPrompt(model: LlamaModel, turns: readonly PromptTurn[]): Prompt {
  const start = specialToken(model, TURN_START);
  const end = specialToken(model, TURN_END);
  const tokens: Token[] = [];
  let pendingText = '';
  const flush = () => {
    if (pendingText) tokens.push(...model.tokenize(pendingText, false));
    pendingText = '';
  };
  for (const turn of turns) {
    flush();
    tokens.push(start);
    pendingText = `${turn.role}\n${turn.content}`;
    flush();
    tokens.push(end);
    pendingText = '\n';
  }
  flush();
  // Through the newline after the system turn: the same tokens for every request of a task.
  const prefixLength = turns[0]?.role === 'system' ? tokens.indexOf(end) + 2 : 0;
  tokens.push(start);
  pendingText = 'assistant\n';
  flush();
  return { tokens, prefixLength };
}

function specialToken(model: LlamaModel, text: string): Token {
  const tokens = model.tokenize(text, true);
  if (tokens.length !== 1) throw new Error(`the model has no special token ${text}: it does not use the ChatML template`);
  return tokens[0];
}
