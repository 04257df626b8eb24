import type { LlamaModel, Token } from 'node-llama-cpp';
import { loadTinyModel } from '../../../test/support/tiny-model.js';
import { endsGeneration } from './generation-end.js';

/** The tiny fixture carries Qwen2's real vocabulary, so these are facts about Qwen2's. */
describe('vocabulary', () => {
  let model: LlamaModel;
  let close: () => Promise<void>;
  beforeAll(async () => ({ model, close } = await loadTinyModel()));
  afterAll(() => close());

  const single = (text: string) => {
    const tokens = model.tokenize(text, true);
    expect(tokens).toHaveLength(1);
    return tokens[0];
  };

  describe('endsGeneration', () => {
    it.each(['<|im_start|>', '<|im_end|>', '<|endoftext|>'])('is true for %s', (text) => {
      expect(endsGeneration(model, single(text))).toBe(true);
    });

    it('is true for every control token, and for no token of ordinary text', () => {
      const vocabularySize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
      for (let token = 0 as Token; token < vocabularySize; token++)
        if (model.getTokenAttributes(token).control) expect(endsGeneration(model, token)).toBe(true);
      const ordinary = model.tokenize('Hello! Your parcel ships Monday. 你好，谢谢 <|im_start|>user\n', false);
      expect(ordinary.filter((token) => endsGeneration(model, token))).toEqual([]);
    });
  });
});
