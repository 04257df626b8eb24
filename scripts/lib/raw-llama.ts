import { getLlama, Llama, LlamaContext, LlamaModel, Token } from 'node-llama-cpp';
import { renderChatMl } from '../../src/modules/model/chatml.js';
import type { PromptTurn } from '../../src/prompts/prompt-module.js';

/** node-llama-cpp alone, with the service's own settings: the in-process baseline every ratio is taken against. */
export class RawLlama {
  private constructor(
    private readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
  ) {}

  static async open(modelPath: string, threads: number, batchSize = 512): Promise<RawLlama> {
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' as never });
    const model = await llama.loadModel({ modelPath, useMmap: false });
    const context = await model.createContext({ sequences: 1, contextSize: 2048, batchSize, threads });
    return new RawLlama(llama, model, context);
  }

  render(turns: readonly PromptTurn[]): Token[] {
    return renderChatMl(this.model, turns);
  }

  /** Milliseconds to evaluate each prompt on a cleared sequence, one after another. */
  async promptTimes(prompts: readonly Token[][]): Promise<number[]> {
    const sequence = this.context.getSequence();
    const times: number[] = [];
    try {
      for (const prompt of prompts) {
        await sequence.clearHistory();
        const started = performance.now();
        await sequence.controlledEvaluate([...prompt.slice(0, -1), [prompt[prompt.length - 1], { generateNext: { token: true } }]]);
        times.push(performance.now() - started);
      }
    } finally {
      await sequence.dispose();
    }
    return times;
  }

  /** Greedy generation of exactly `tokens` tokens after `prompt`: [prompt ms, generation tokens/s]. */
  async generation(prompt: readonly Token[], tokens: number): Promise<{ promptMs: number; tokensPerS: number }> {
    const sequence = this.context.getSequence();
    try {
      const started = performance.now();
      let firstAt = 0;
      let count = 0;
      for await (const _token of sequence.evaluate([...prompt], { temperature: 0 })) {
        if (count === 0) firstAt = performance.now();
        if (++count >= tokens) break;
      }
      const end = performance.now();
      return { promptMs: firstAt - started, tokensPerS: ((count - 1) / (end - firstAt)) * 1000 };
    } finally {
      await sequence.dispose();
    }
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

export const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
