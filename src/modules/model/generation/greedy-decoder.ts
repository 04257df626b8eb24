import { LlamaGrammarEvaluationState, type LlamaGrammar, type LlamaModel, type Token } from 'node-llama-cpp';
import { RequestAbortedError } from '../model.errors.js';
import type { GenerationLease } from '../scheduling/scheduler.js';
import { endsGeneration } from './generation-end.js';
import type { GenerationInput } from './generation.types.js';
import { jsonRootEnd } from './json-root-end.js';
import { firstChars } from './reply-text.js';
import { stopIndex, withoutStopStart } from './stop-strings.js';

export type DecodeLimits = Pick<GenerationInput, 'maxTokens' | 'maxChars' | 'onText' | 'stop'>;

/** A decoded reply: `stopped` when something other than a cap ended it. */
export interface DecodedReply {
  tokens: Token[];
  text: string;
  stopped: boolean;
  firstTokenAt?: number;
}

/**
 * Greedy decoding of one reply after its prompt, stopped by a control token (see endsGeneration),
 * a stop string, the end of the JSON value when held to JSON by a grammar (see jsonRootEnd), the
 * token cap or the character cap. Streams the text through `onText` as it grows:
 * up to maxChars, never a split character, and never what may begin a stop string until the reply
 * is known not to hold one. One decoder per reply.
 */
export class GreedyDecoder {
  private readonly tokens: Token[] = [];
  private text = '';
  private streamed = '';
  private heldToJson = false;

  constructor(
    private readonly model: LlamaModel,
    private readonly limits: DecodeLimits,
  ) {}

  /** Evaluates `rest` (the prompt past the sequence's prefix), then generates on the lease's sequence. */
  async decode(lease: GenerationLease, rest: readonly Token[], grammar?: LlamaGrammar): Promise<DecodedReply> {
    const { model, limits } = this;
    this.heldToJson = grammar !== undefined;
    const steps = lease.sequence.evaluate([...rest], {
      temperature: 0,
      evaluationPriority: lease.priority,
      grammarEvaluationState: grammar && new LlamaGrammarEvaluationState({ model, grammar }),
    });
    let firstTokenAt: number | undefined;
    try {
      while (this.tokens.length < limits.maxTokens) {
        if (lease.signal.aborted) throw new RequestAbortedError(lease.signal.reason);
        await lease.turns.beforeStep();
        const next = await steps.next();
        lease.turns.afterStep();
        firstTokenAt ??= performance.now();
        if (next.done || endsGeneration(model, next.value)) break;
        if (this.add(next.value)) return this.reply(true, firstTokenAt);
        if ([...this.text].length > limits.maxChars) return this.reply(false, firstTokenAt);
      }
      this.publish(true);
      return this.reply(this.tokens.length < limits.maxTokens, firstTokenAt);
    } finally {
      lease.turns.end();
      await steps.return();
    }
  }

  /** Adds a generated token; true when the text now holds a stop string or a whole JSON value (cut after it). */
  private add(token: Token): boolean {
    this.tokens.push(token);
    const decoded = this.model.detokenize(this.tokens).trimStart();
    // A JSON grammar lets white space follow the value (node-llama-cpp's schema grammar ends with
    // newlines it leaves to its own chat wrappers to trim): the answer ends with its value.
    const stopAt = (this.heldToJson ? jsonRootEnd(decoded) : undefined) ?? stopIndex(decoded, this.limits.stop);
    this.text = decoded.slice(0, stopAt);
    this.publish(stopAt !== undefined);
    return stopAt !== undefined;
  }

  /** Hands the text over up to maxChars; unless `final`, never what may begin a stop string. */
  private publish(final: boolean): void {
    const { onText, maxChars, stop } = this.limits;
    if (!onText) return;
    const fitted = firstChars(this.text, maxChars);
    const ready = final ? fitted : withoutStopStart(fitted, stop);
    if (ready.length > this.streamed.length) onText(ready.slice(this.streamed.length));
    this.streamed = ready;
  }

  private reply(stopped: boolean, firstTokenAt: number | undefined): DecodedReply {
    return { tokens: this.tokens, text: this.text, stopped, firstTokenAt };
  }
}
