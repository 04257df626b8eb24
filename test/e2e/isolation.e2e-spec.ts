import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });
const CHAT_B = { messages: [user('Can I change my delivery address?')] };
const CHAT_A = {
  messages: [user('我的订单还没到，怎么办？'), { role: 'assistant', content: '请提供订单号。' }, user('12345')],
};

/** Every response body a client could compare, for a fixed set of requests. */
async function probeAnswers(t: TestApp) {
  const sentiment = [];
  for (const text of PROBE_TEXTS) sentiment.push((await t.post('/v1/sentiment', { text })).body);
  return { sentiment, chat: (await t.post('/v1/chat', CHAT_B)).body };
}

describe('fresh state per request', () => {
  it('B answers byte-identically after A as in a fresh app that only ever saw B', async () => {
    const warm = await startTestApp({ SEQUENCES: '1' }); // one sequence: B must reuse A's sequence
    let afterA: Awaited<ReturnType<typeof probeAnswers>>;
    try {
      await warm.post('/v1/chat', CHAT_A);
      await warm.post('/v1/sentiment', { text: 'A: this text should leave no trace at all' });
      afterA = await probeAnswers(warm);
    } finally {
      await warm.close();
    }
    const fresh = await startTestApp({ SEQUENCES: '1' });
    try {
      expect(await probeAnswers(fresh)).toEqual(afterA);
    } finally {
      await fresh.close();
    }
  });
});

describe('sentiment determinism under concurrent mixed traffic', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '4', CHAT_MAX_TOKENS: '16', CHAT_MAX_CHARS: '500' });
  });
  afterAll(() => t.close());

  it('each text gets the same label and confidence, bit for bit, alone or alongside other requests', async () => {
    const alone = [];
    for (const text of PROBE_TEXTS) alone.push((await t.post('/v1/sentiment', { text })).json());
    const chats = Array.from({ length: 4 }, (_, i) =>
      t.post('/v1/chat', { messages: [user(`question number ${i}, please answer`)] }),
    );
    const batch = t.post('/v1/sentiment/batch', { items: PROBE_TEXTS.map((text) => ({ text })) });
    const concurrent = await Promise.all(
      [...PROBE_TEXTS, ...PROBE_TEXTS].map((text) => t.post('/v1/sentiment', { text })),
    );
    const others = await Promise.all([...chats, batch]);
    expect(others.every((r) => r.statusCode === 200)).toBe(true);
    expect(concurrent.map((r) => r.json())).toEqual([...alone, ...alone]);
    expect(
      others[others.length - 1]
        .json()
        .results.map(({ label, confidence }: { label: string; confidence: number }) => ({ label, confidence })),
    ).toEqual(alone.map(({ label, confidence }) => ({ label, confidence })));
  });

  it('evaluates each classification alone, while concurrent chats share decode batches', async () => {
    const seen = watchDecodeLock(t);
    const chats = Array.from({ length: 3 }, (_, i) => t.post('/v1/chat', { messages: [user(`hello ${i}`)] }));
    const classifications = PROBE_TEXTS.map((text) => t.post('/v1/sentiment', { text }));
    await Promise.all([...chats, ...classifications]);
    // Plus a system prompt evaluated anew wherever a classification got a sequence a chat had used.
    expect(seen.exclusive).toBeGreaterThanOrEqual(PROBE_TEXTS.length);
    expect(seen.overlapsWithExclusive).toBe(0);
    expect(seen.shared).toBeGreaterThanOrEqual(3 * 2); // 16 steps each, 8 per turn at the lock
    expect(seen.maxConcurrentShared).toBeGreaterThan(1);
  });

  it('lets a chat decode 8 steps per turn at the lock, so classifications cannot hold it to one token each', async () => {
    const seen = watchDecodeLock(t);
    let chatting = true;
    const chat = t.post('/v1/chat', { messages: [user('tell me about your day')] }).finally(() => (chatting = false));
    const classifiers = Array.from({ length: 3 }, async () => {
      while (chatting) expect((await t.post('/v1/sentiment', { text: PROBE_TEXTS[0] })).statusCode).toBe(200);
    });
    const reply = await chat;
    await Promise.all(classifiers);
    expect(reply.statusCode).toBe(200);
    expect(reply.json().usage.completionTokens).toBeGreaterThan(8); // long enough to need more than one turn
    const steps = reply.json().usage.completionTokens + 1; // at most: the last step may decode an end-of-turn token
    expect(seen.shared).toBeLessThanOrEqual(Math.ceil(steps / 8));
    expect(seen.exclusive).toBeGreaterThan(0);
    expect(seen.overlapsWithExclusive).toBe(0);
  });
});
