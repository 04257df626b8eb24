import { DEFAULT_BATCH_SIZE } from '../../src/config/environment.js';
import type { Prompt } from '../../src/modules/model/tokens/chatml.js';
import { LlamaContext, LlamaGrammar, LlamaGrammarEvaluationState, LlamaModel, Token } from 'node-llama-cpp';

/**
 * The slow reference for label scoring: greedy decoding constrained by a GBNF grammar that allows
 * exactly the labels, token by token, on a context of its own. The shared start, the text and the
 * question are evaluated in batches of their own and of the service's size, as the service does (a
 * different batch split changes float rounding).
 */
export class GrammarLabeler {
  private readonly grammars = new Map<string, LlamaGrammar>();

  private constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
  ) {}

  static async open(model: LlamaModel): Promise<GrammarLabeler> {
    return new GrammarLabeler(
      model,
      await model.createContext({ sequences: 1, contextSize: 2048, batchSize: DEFAULT_BATCH_SIZE }),
    );
  }

  /** `textEnd`: where the text ends and the question begins, evaluated apart as the service does. */
  async label(prompt: Prompt & { textEnd: number }, labels: readonly string[]): Promise<string> {
    const grammar = await this.grammarFor(labels);
    const sequence = this.context.getSequence();
    const emitted: Token[] = [];
    try {
      const state = new LlamaGrammarEvaluationState({ model: this.model, grammar });
      await sequence.evaluateWithoutGeneratingNewTokens(prompt.tokens.slice(0, prompt.prefixLength));
      await sequence.evaluateWithoutGeneratingNewTokens(prompt.tokens.slice(prompt.prefixLength, prompt.textEnd));
      for await (const token of sequence.evaluate(prompt.tokens.slice(prompt.textEnd), {
        temperature: 0,
        grammarEvaluationState: state,
      })) {
        if (this.model.isEogToken(token) || emitted.length >= 16) break;
        emitted.push(token);
      }
    } finally {
      await sequence.dispose();
    }
    return this.model.detokenize(emitted);
  }

  async close(): Promise<void> {
    await this.context.dispose();
  }

  private async grammarFor(labels: readonly string[]): Promise<LlamaGrammar> {
    const key = labels.join('|');
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = await this.model.llama.createGrammar({
        grammar: `root ::= ${labels.map((label) => JSON.stringify(label)).join(' | ')}`,
      });
      this.grammars.set(key, grammar);
    }
    return grammar;
  }
}
