import { jest } from '@jest/globals';
import { LlamaContextSequence, Token } from 'node-llama-cpp';
import { startTestApp, TestApp } from '../support/test-app.js';

const sequenceMethods = LlamaContextSequence.prototype;
const original = {
  controlledEvaluate: sequenceMethods.controlledEvaluate,
  evaluate: sequenceMethods.evaluate,
  evaluateWithoutGeneratingNewTokens: sequenceMethods.evaluateWithoutGeneratingNewTokens,
  clearHistory: sequenceMethods.clearHistory,
};
const injected = (where: string) => new Error(`injected failure ${where}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Failures injected into the real llama.cpp sequences (their methods wrapped to throw once) in the
 * middle of a request. Throughput batching, no sequence kept for the chat task and no prefix cache
 * make a batch hold both sequences and evaluate the system prompt on each, so every cleanup path runs.
 */
describe('a failure inside the sequence pool', () => {
  let t: TestApp;
  const logLines: string[] = [];
  beforeAll(async () => {
    t = await startTestApp(
      // One thread: llama.cpp's threads spin while they wait for each other, slow on a busy machine.
      {
        THREADS: '1',
        SEQUENCES: '2',
        INTERACTIVE_SEQUENCES: '0',
        SENTIMENT_BATCHING: 'throughput',
        PREFIX_CACHE: 'false',
        CHAT_MAX_TOKENS: '16',
      },
      { logLines },
    );
  });
  afterAll(() => t.close());
  beforeEach(() => (logLines.length = 0));
  afterEach(() => jest.restoreAllMocks());

  const batch = (texts: string[]) => t.post('/v1/sentiment/batch', { items: texts.map((text) => ({ text })) });

  /** A 500 in the error shape, the cause logged, every sequence back exactly once, and the next 100 requests fine. */
  const expectFailedCleanly = async (res: { statusCode: number; json(): unknown }, cause: string) => {
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    const logged = logLines.map((line) => JSON.parse(line));
    expect(logged).toContainEqual(expect.objectContaining({ event: 'unhandled_error', error: cause }));
    expect(t.scheduler.load()).toEqual({ busy: 0, queued: 0 });
    jest.restoreAllMocks();
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => t.post('/v1/sentiment', { text: `fine ${round} ${i}` })),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual(Array(10).fill(200));
    }
    expect(t.scheduler.load()).toEqual({ busy: 0, queued: 0 });
  };

  it('an evaluation that rejects mid-batch', async () => {
    let calls = 0;
    jest.spyOn(sequenceMethods, 'controlledEvaluate').mockImplementation(function (
      this: LlamaContextSequence,
      ...args
    ) {
      if (++calls === 3) return Promise.reject(injected('mid-batch'));
      return original.controlledEvaluate.apply(this, args);
    });
    await expectFailedCleanly(await batch(['one', 'two', 'three', 'four']), 'injected failure mid-batch');
  });

  it('a generation that rejects mid-way', async () => {
    jest.spyOn(sequenceMethods, 'evaluate').mockImplementation(async function* (this: LlamaContextSequence, ...args) {
      let step = 0;
      for await (const token of original.evaluate.apply(this, args)) {
        if (++step === 4) throw injected('mid-generation');
        yield token as Token;
      }
    });
    const res = await t.post('/v1/chat', { messages: [{ role: 'user', content: 'tell me more' }] });
    await expectFailedCleanly(res, 'injected failure mid-generation');
  });

  it('a cleanup that rejects when the sequences are released: every sequence still goes back', async () => {
    // A sequence holding tokens is being released (each request starts on cleared ones); the pool's
    // fallback clears it again, so two failures make the cleanup fail.
    let failures = 2;
    jest.spyOn(sequenceMethods, 'clearHistory').mockImplementation(function (this: LlamaContextSequence) {
      if (this.nextTokenIndex === 0 || failures === 0) return original.clearHistory.call(this);
      failures--;
      return Promise.reject(injected('during release'));
    });
    await expectFailedCleanly(await batch(['one', 'two']), 'injected failure during release');
    expect(failures).toBe(0);
    expect(logLines.map((line) => JSON.parse(line).event)).toContain('sequence_cleanup_failed');
  });

  it('a failure while another sequence still evaluates: that one is released only once it is done', async () => {
    const events: string[] = [];
    const ids = new Map<LlamaContextSequence, number>();
    const id = (sequence: LlamaContextSequence) => ids.get(sequence) ?? ids.set(sequence, ids.size).get(sequence)!;
    let calls = 0;
    jest.spyOn(sequenceMethods, 'evaluateWithoutGeneratingNewTokens').mockImplementation(async function (
      this: LlamaContextSequence,
      ...args
    ) {
      if (++calls === 1) throw injected('while another sequence evaluates');
      events.push(`${id(this)} evaluating`);
      await sleep(100);
      await original.evaluateWithoutGeneratingNewTokens.apply(this, args);
      events.push(`${id(this)} evaluated`);
    });
    jest.spyOn(sequenceMethods, 'clearHistory').mockImplementation(function (this: LlamaContextSequence) {
      events.push(`${id(this)} cleared`);
      return original.clearHistory.call(this);
    });
    const res = await batch(['one', 'two']);
    events.push('answered');
    const evaluating = events.find((event) => event.endsWith(' evaluating'))!;
    const sequence = evaluating.split(' ')[0];
    const after = events.slice(events.indexOf(evaluating) + 1);
    expect(after.filter((event) => event.startsWith(`${sequence} `) || event === 'answered')).toEqual([
      `${sequence} evaluated`,
      `${sequence} cleared`,
      'answered',
    ]);
    await expectFailedCleanly(res, 'injected failure while another sequence evaluates');
  });
});
