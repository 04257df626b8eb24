import type { LlamaModel, Token } from 'node-llama-cpp';
import { loadTinyModel } from '../support/tiny-model.js';
import { endsGeneration } from '../../src/modules/model/generation/generation-end.js';
import { LabelVocabulary } from '../../src/modules/model/classification/label-scoring.js';
import { TokenBytes } from '../../src/modules/model/tokens/token-bytes.js';

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

  describe('TokenBytes', () => {
    it('is the UTF-8 length of the longest text any token stands for', () => {
      const vocabularySize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
      let longest = 0;
      for (let token = 0 as Token; token < vocabularySize; token++)
        longest = Math.max(longest, Buffer.byteLength(model.detokenize([token], true)));
      expect(TokenBytes.fromVocabulary(model)!.longest).toBe(longest);
      expect(longest).toBe(128); // a run of 128 spaces
    });

    it("holds each token's exact bytes, also of tokens that are part of a character", () => {
      const bytes = TokenBytes.fromVocabulary(model)!;
      for (const text of ['Hello there', '物流很快，服务也好', '🙂👍 ok', '  spaced\n\tout']) {
        const tokens = model.tokenize(text, false);
        expect(Buffer.concat(tokens.map((token) => bytes.of(token))).toString('utf8')).toBe(text);
      }
      const partial = model.tokenize('🙂👍龘𠀋', false).find((token) => model.detokenize([token]).includes('\uFFFD'));
      expect(partial).toBeDefined(); // a token that stands for part of a character…
      expect(bytes.of(partial!).length).toBeGreaterThan(0); // …still has its bytes
      expect(bytes.of(model.tokenize('<|im_end|>', true)[0])).toHaveLength(0); // control tokens stand for no text
    });

    it('bounds the token count from below, even for text made of the longest token', () => {
      const bytesPerToken = TokenBytes.fromVocabulary(model)!.longest;
      for (const text of [' '.repeat(128 * 20), 'a'.repeat(5000), '价格实惠，味道一般'.repeat(50), '🙂'.repeat(300)])
        expect(model.tokenize(text, false).length).toBeGreaterThanOrEqual(
          Math.ceil(Buffer.byteLength(text) / bytesPerToken),
        );
      expect(model.tokenize(' '.repeat(128 * 20), false)).toHaveLength(20);
    });
  });

  describe('LabelVocabulary', () => {
    it('allows every end-of-generation token once a label is whole, also those that stand for text', () => {
      const bytes = TokenBytes.fromVocabulary(model)!;
      const vocabularySize = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
      const ends: Token[] = [];
      for (let token = 0 as Token; token < vocabularySize; token++) if (model.isEogToken(token)) ends.push(token);
      // Qwen2's "</s>" is a normal token in the file; llama.cpp makes it an end, and so does its grammar.
      const textEnds = ends.filter((token) => bytes.of(token).length > 0);
      expect(model.detokenize(textEnds, true)).toContain('</s>');
      const vocabulary = new LabelVocabulary(model, bytes);
      const labels = ['no', 'not sure'];
      expect(vocabulary.allowedAfter('no', labels)).toEqual(expect.arrayContaining(ends));
      expect(vocabulary.allowedAfter('', labels)).not.toEqual(expect.arrayContaining(textEnds));
      for (const token of ends) expect(vocabulary.piece(token)).toBeUndefined();
    });
  });
});
