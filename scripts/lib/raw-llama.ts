import { getLlama, Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { DEFAULT_BATCH_SIZE } from '../../src/config/environment.js';
import { chatMlTemplate, Prompt, PromptTurn } from '../../src/modules/model/tokens/chatml.js';
import {
  chooseLabel,
  LabelVocabulary,
  type ScoringSequence,
} from '../../src/modules/model/classification/label-scoring.js';
import { TokenBytes } from '../../src/modules/model/tokens/token-bytes.js';
import { sequenceContextSize } from '../../src/prompts/task-definitions.js';
import { loadTasks } from '../../src/prompts/tasks-file.js';

/** node-llama-cpp alone, with the service's own settings: the in-process baseline every ratio is taken against. */
export class RawLlama {
  private constructor(
    private readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
  ) {}

  static async open(modelPath: string, threads: number, sequences = 1): Promise<RawLlama> {
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: 'error' as never });
    const model = await llama.loadModel({ modelPath, useMmap: false });
    const context = await model.createContext({
      sequences,
      contextSize: sequenceContextSize(loadTasks()),
      batchSize: DEFAULT_BATCH_SIZE,
      threads,
    });
    return new RawLlama(llama, model, context);
  }

  prompt(turns: readonly PromptTurn[]): Prompt {
    return chatMlTemplate(this.model).render(turns);
  }

  /**
   * Milliseconds to evaluate each prompt after its cached system prompt (which is evaluated once,
   * alone, and kept), one after another: llama.cpp's prompt-cache behaviour, the service's work.
   * `between` runs untimed after each prompt (for measurements interleaved with this one).
   */
  async promptTimes(
    prompts: readonly Prompt[],
    evaluate = evaluateRest,
    between?: (item: number) => Promise<void>,
  ): Promise<number[]> {
    const times: number[] = [];
    await this.onCachedSequences(prompts[0], 1, async ([sequence], prefixLength) => {
      for (const [item, prompt] of prompts.entries()) {
        const started = performance.now();
        await evaluate(sequence, prompt, prefixLength);
        times.push(performance.now() - started);
        await between?.(item);
      }
    });
    return times;
  }

  /** Like promptTimes, doing the service's whole classification: the label choice, second decode included where it needs one. */
  async classificationTimes(
    prompts: readonly Prompt[],
    labels: readonly string[],
    between?: (item: number) => Promise<void>,
  ): Promise<number[]> {
    const vocabulary = this.labelVocabulary(labels);
    return this.promptTimes(
      prompts,
      async (sequence, prompt, prefixLength) => {
        await chooseLabel(sequence, prompt.tokens.slice(prefixLength), labels, vocabulary);
        await sequence.eraseContextTokenRanges([{ start: prefixLength, end: sequence.nextTokenIndex }]);
      },
      between,
    );
  }

  /**
   * How many evaluations each prompt's label choice takes: one, or more where the best first token
   * starts several labels ("ne": negative, neutral) and the next must be read.
   */
  async labelEvaluations(prompts: readonly Prompt[], labels: readonly string[]): Promise<number[]> {
    const vocabulary = this.labelVocabulary(labels);
    const counts: number[] = [];
    await this.promptTimes(prompts, async (sequence, prompt, prefixLength) => {
      let evaluations = 0;
      const counted: ScoringSequence = {
        get nextTokenIndex() {
          return sequence.nextTokenIndex;
        },
        controlledEvaluate: (input, options) => {
          evaluations++;
          return sequence.controlledEvaluate(input, options);
        },
        eraseContextTokenRanges: (ranges) => sequence.eraseContextTokenRanges(ranges),
      };
      await chooseLabel(counted, prompt.tokens.slice(prefixLength), labels, vocabulary);
      await sequence.eraseContextTokenRanges([{ start: prefixLength, end: sequence.nextTokenIndex }]);
      counts.push(evaluations);
    });
    return counts;
  }

  private labelVocabulary(labels: readonly string[]): LabelVocabulary {
    const vocabulary = new LabelVocabulary(this.model, TokenBytes.fromVocabulary(this.model));
    vocabulary.allowedAfter('', labels);
    return vocabulary;
  }

  /** Prompt tokens per second (cached system prompt excluded) with `sequences` prompts evaluated at once, sharing decode batches. */
  async batchedRate(prompts: readonly Prompt[], sequences: number): Promise<number> {
    let next = 0;
    let seconds = 0;
    await this.onCachedSequences(prompts[0], sequences, async (held, prefixLength) => {
      const started = performance.now();
      await Promise.all(
        held.map(async (sequence) => {
          while (next < prompts.length) await evaluateRest(sequence, prompts[next++], prefixLength);
        }),
      );
      seconds = (performance.now() - started) / 1000;
    });
    return prompts.reduce((sum, p) => sum + p.tokens.length - p.prefixLength, 0) / seconds;
  }

  /**
   * Prompt tokens per second evaluating 128 tokens at a time in one sequence (the prompts' own
   * tokens after the system prompt, run together): llama.cpp's batch-128 prompt rate.
   */
  async batch128Rate(prompts: readonly Prompt[], rounds = 8): Promise<number> {
    const chunk = prompts.flatMap((p) => p.tokens.slice(p.prefixLength)).slice(0, 128);
    if (chunk.length < 128) throw new Error('batch128Rate needs at least 128 prompt tokens');
    let seconds = 0;
    await this.onCachedSequences(prompts[0], 1, async ([sequence], prefixLength) => {
      for (let round = 0; round <= rounds; round++) {
        const started = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(chunk);
        if (round > 0) seconds += (performance.now() - started) / 1000; // round 0 warms up
        await sequence.eraseContextTokenRanges([{ start: prefixLength, end: sequence.nextTokenIndex }]);
      }
    });
    return (128 * rounds) / seconds;
  }

  /** Runs `run` on `count` fresh sequences that hold `first`'s prefix (evaluated untimed), disposed afterwards. */
  async onCachedSequences(
    first: Prompt,
    count: number,
    run: (sequences: LlamaContextSequence[], prefixLength: number) => Promise<void>,
  ): Promise<void> {
    const sequences = Array.from({ length: count }, () => this.context.getSequence());
    try {
      for (const sequence of sequences)
        await sequence.evaluateWithoutGeneratingNewTokens(first.tokens.slice(0, first.prefixLength));
      await run(sequences, first.prefixLength);
    } finally {
      for (const sequence of sequences) await sequence.dispose();
    }
  }

  /**
   * Generated tokens per second, prompt time included, of greedy generations of `tokens` tokens
   * after each prompt (system prompts evaluated first, untimed), all at once so their decode steps
   * share batches, as the service's concurrent chats do.
   */
  async generationRate(prompts: readonly Prompt[], tokens: number): Promise<number> {
    const sequences = prompts.map(() => this.context.getSequence());
    try {
      await Promise.all(
        sequences.map((sequence, i) =>
          sequence.evaluateWithoutGeneratingNewTokens(prompts[i].tokens.slice(0, prompts[i].prefixLength)),
        ),
      );
      const started = performance.now();
      await Promise.all(
        sequences.map(async (sequence, i) => {
          let count = 0;
          for await (const _token of sequence.evaluate(prompts[i].tokens.slice(prompts[i].prefixLength), {
            temperature: 0,
          }))
            if (++count >= tokens) break;
        }),
      );
      return (prompts.length * tokens) / ((performance.now() - started) / 1000);
    } finally {
      for (const sequence of sequences) await sequence.dispose();
    }
  }

  /** Greedy generation of exactly `tokens` tokens after `prompt` (system prompt cached): [time to first token, generation tokens/s]. */
  async generation(prompt: Prompt, tokens: number): Promise<{ promptMs: number; tokensPerS: number }> {
    const sequence = this.context.getSequence();
    try {
      await sequence.evaluateWithoutGeneratingNewTokens(prompt.tokens.slice(0, prompt.prefixLength));
      const started = performance.now();
      let firstAt = 0;
      let count = 0;
      for await (const _token of sequence.evaluate(prompt.tokens.slice(prompt.prefixLength), { temperature: 0 })) {
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

/** Evaluates a prompt's tokens after the system prompt and reads one next token, then erases them again. */
async function evaluateRest(sequence: LlamaContextSequence, prompt: Prompt, prefixLength: number): Promise<void> {
  const rest = prompt.tokens.slice(prefixLength);
  await sequence.controlledEvaluate([...rest.slice(0, -1), [rest[rest.length - 1], { generateNext: { token: true } }]]);
  await sequence.eraseContextTokenRanges([{ start: prefixLength, end: sequence.nextTokenIndex }]);
}
