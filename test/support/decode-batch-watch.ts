import type { LlamaContext } from 'node-llama-cpp';
import type { ModelService } from '../../src/modules/model/runtime/model.service.js';

/** One llama_decode call: each sequence's tokens in it (from position `first`), in batch order. */
export type DecodeBatch = Array<{ sequence: number; first: number; tokens: number }>;

type Binding = Record<string | symbol, any>;

/**
 * Records the batches the service's context hands llama.cpp, by wrapping node-llama-cpp's native
 * binding (its internal `_ctx`): llama.cpp cuts micro-batches by what this shows, so a test of
 * batch shapes has to look here. The decodes themselves run unchanged.
 */
export function watchDecodeBatches(models: ModelService) {
  const context = (models as unknown as { context: LlamaContext }).context as unknown as { _ctx: Binding };
  const binding = context._ctx;
  const batches: DecodeBatch[] = [];
  let current: DecodeBatch = [];
  context._ctx = new Proxy(binding, {
    get(target, key) {
      if (key === 'initBatch') return (size: number) => ((current = []), target.initBatch(size));
      if (key === 'addToBatch') {
        return (sequence: number, first: number, tokens: Uint32Array, logits: Uint32Array) => {
          current.push({ sequence, first, tokens: tokens.length });
          return target.addToBatch(sequence, first, tokens, logits);
        };
      }
      if (key === 'decodeBatch') return (...args: unknown[]) => (batches.push(current), target.decodeBatch(...args));
      const value = target[key];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { batches, stop: () => void (context._ctx = binding) };
}
