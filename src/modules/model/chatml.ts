import type { LlamaModel, Token } from 'node-llama-cpp';
import type { PromptTurn } from '../../prompts/prompt-module.js';

/** System turns kept tokenized per model: one per task and setting (label set, reply length) in use. */
const MAX_CACHED_SYSTEM_TURNS = 64;

/** A rendered prompt and how many of its first tokens are the system turn, shared by every request of a task. */
export interface Prompt {
  tokens: Token[];
  prefixLength: number;
}

/**
 * Qwen2.5's ChatML template for one model. Each turn is `<|im_start|>`, the role and content
 * tokenized as one piece with special tokens off (a client writing "<|im_end|>" gets plain text,
 * never a turn boundary; one piece between two special tokens is how llama.cpp tokenizes the
 * model's own template), `<|im_end|>` and a newline.
 *
 * System turns are cached: they are the same for every request of a task, and tokenizing one
 * right after a decode (caches cold) took ~0.4 ms, a fifth of the service's overhead budget.
 */
class ChatMlTemplate {
  private readonly start: Token;
  private readonly end: Token;
  private readonly newline: Token[];
  private readonly assistantOpening: Token[];
  private readonly systemTurns = new Map<string, readonly Token[]>();

  constructor(private readonly model: LlamaModel) {
    this.start = specialToken(model, '<|im_start|>');
    this.end = specialToken(model, '<|im_end|>');
    this.newline = model.tokenize('\n', false);
    this.assistantOpening = [this.start, ...model.tokenize('assistant\n', false)];
  }

  /** Ends with an open assistant turn; the prefix is the system turn through its trailing newline. */
  render(turns: readonly PromptTurn[]): Prompt {
    const tokens: Token[] = [];
    let prefixLength = 0;
    for (const [index, turn] of turns.entries()) {
      if (index === 0 && turn.role === 'system') {
        tokens.push(...this.systemTurn(turn.content));
        prefixLength = tokens.length;
      } else {
        tokens.push(...this.turn(turn));
      }
    }
    tokens.push(...this.assistantOpening);
    return { tokens, prefixLength };
  }

  private turn({ role, content }: PromptTurn): Token[] {
    return [this.start, ...this.model.tokenize(`${role}\n${content}`, false), this.end, ...this.newline];
  }

  private systemTurn(content: string): readonly Token[] {
    let tokens = this.systemTurns.get(content);
    if (!tokens) {
      if (this.systemTurns.size >= MAX_CACHED_SYSTEM_TURNS)
        this.systemTurns.delete(this.systemTurns.keys().next().value!);
      tokens = this.turn({ role: 'system', content });
      this.systemTurns.set(content, tokens);
    }
    return tokens;
  }
}

const templates = new WeakMap<LlamaModel, ChatMlTemplate>();

/** Renders turns with the model's ChatML template (see ChatMlTemplate), ending with an open assistant turn. */
export function renderChatMlPrompt(model: LlamaModel, turns: readonly PromptTurn[]): Prompt {
  let template = templates.get(model);
  if (!template) {
    template = new ChatMlTemplate(model);
    templates.set(model, template);
  }
  return template.render(turns);
}

function specialToken(model: LlamaModel, text: string): Token {
  const tokens = model.tokenize(text, true);
  if (tokens.length !== 1)
    throw new Error(`the model has no special token ${text}: it does not use the ChatML template`);
  return tokens[0];
}
