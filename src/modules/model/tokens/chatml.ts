import type { LlamaModel, Token } from 'node-llama-cpp';

/** One turn of a prompt, before the template is applied. */
export interface PromptTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Fixed pieces (system turns, classification starts and questions) kept tokenized per model. */
const MAX_CACHED_PIECES = 256;

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
 * right after a decode (caches cold) costs a noticeable part of the service's overhead budget
 * (docs/benchmark-runs.md#measurements-behind-constants).
 */
export class ChatMlTemplate {
  private readonly start: Token;
  private readonly end: Token;
  private readonly newline: Token[];
  private readonly assistantOpening: Token[];
  private readonly pieces = new Map<string, readonly Token[]>();

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

  /** The start of every classification prompt: `<|im_start|>system…<|im_end|>\n<|im_start|>user\n{lead}`. */
  classificationStart(system: string, lead: string): readonly Token[] {
    return this.cached(`prefix\u0000${system}\u0000${lead}`, () => [
      ...this.systemTurn(system),
      this.start,
      ...this.model.tokenize(`user\n${lead}`, false),
    ]);
  }

  /** A text and `{trail}`, tokenized apart, so the trail's tokens are the same after every text. */
  classificationText(text: string, trail: string): readonly Token[] {
    return [
      ...this.model.tokenize(text, false),
      ...this.cached(`trail\u0000${trail}`, () => this.model.tokenize(trail, false)),
    ];
  }

  /** `{question}<|im_end|>\n<|im_start|>assistant\n`. */
  classificationQuestion(question: string): readonly Token[] {
    return this.cached(`question\u0000${question}`, () => [
      ...this.model.tokenize(question, false),
      this.end,
      ...this.newline,
      ...this.assistantOpening,
    ]);
  }

  private turn({ role, content }: PromptTurn): Token[] {
    return [this.start, ...this.model.tokenize(`${role}\n${content}`, false), this.end, ...this.newline];
  }

  private systemTurn(content: string): readonly Token[] {
    return this.cached(`system\u0000${content}`, () => this.turn({ role: 'system', content }));
  }

  private cached(key: string, tokenize: () => Token[]): readonly Token[] {
    let tokens = this.pieces.get(key);
    if (!tokens) {
      if (this.pieces.size >= MAX_CACHED_PIECES) this.pieces.delete(this.pieces.keys().next().value!);
      tokens = tokenize();
      this.pieces.set(key, tokens);
    }
    return tokens;
  }
}

const templates = new WeakMap<LlamaModel, ChatMlTemplate>();

/** The model's ChatML template (see ChatMlTemplate), one per model. */
export function chatMlTemplate(model: LlamaModel): ChatMlTemplate {
  let template = templates.get(model);
  if (!template) {
    template = new ChatMlTemplate(model);
    templates.set(model, template);
  }
  return template;
}

function specialToken(model: LlamaModel, text: string): Token {
  const tokens = model.tokenize(text, true);
  if (tokens.length !== 1)
    throw new Error(`the model has no special token ${text}: it does not use the ChatML template`);
  return tokens[0];
}
