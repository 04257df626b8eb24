import { getLlama, LlamaModel } from 'node-llama-cpp';
import { TINY_MODEL } from './test-app.js';

/** The tiny fixture model loaded by node-llama-cpp alone, without the app, for unit tests. */
export async function loadTinyModel(): Promise<{ model: LlamaModel; close(): Promise<void> }> {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: TINY_MODEL });
  return {
    model,
    close: async () => {
      await model.dispose();
      await llama.dispose();
    },
  };
}
