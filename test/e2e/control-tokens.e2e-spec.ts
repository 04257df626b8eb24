import { jest } from '@jest/globals';
import { LlamaContextSequence, Token } from 'node-llama-cpp';
import { startTestApp, TestApp } from '../support/test-app.js';

const question = { messages: [{ role: 'user', content: 'Where is my parcel?' }], maxChars: 2000 };

describe('a generated control token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CHAT_MAX_TOKENS: '24', CHAT_MAX_CHARS: '2000' });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  /** The model "generates" `text`'s special token as its n-th token; the tokens around it are its own. */
  const generateAt = (n: number, text: string) => {
    const [token] = t.models.model.tokenize(text, true);
    const evaluate = LlamaContextSequence.prototype.evaluate;
    jest.spyOn(LlamaContextSequence.prototype, 'evaluate').mockImplementation(async function* (
      this: LlamaContextSequence,
      ...args: Parameters<LlamaContextSequence['evaluate']>
    ) {
      let step = 0;
      for await (const generated of evaluate.apply(this, args)) yield (++step === n ? token : generated) as Token;
    });
  };

  it.each(['<|im_start|>', '<|endoftext|>'])('%s ends the reply, which keeps only the text before it', async (text) => {
    const full = (await t.post('/v1/chat', question)).json();
    expect(full.usage.completionTokens).toBe(24); // without the injection the reply runs to the cap
    generateAt(3, text);
    const cut = (await t.post('/v1/chat', question)).json();
    expect(cut).toMatchObject({ finishReason: 'stop', usage: { completionTokens: 2 } });
    expect(full.reply.startsWith(cut.reply)).toBe(true);
    expect(cut.reply).not.toContain('<|');
  });
});
