import { watchDecodeBatches } from '../support/decode-batch-watch.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });

describe('concurrent generations (tiny model)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '4', CHAT_MAX_TOKENS: '32', CHAT_MAX_CHARS: '2000' });
    // Every sequence evaluates the system prompt once, on its own: not part of what is watched.
    await Promise.all([0, 1, 2, 3].map((i) => t.post('/v1/chat', { messages: [user(`warm ${i}`)] })));
  });
  afterAll(() => t.close());

  it('starts the steps of concurrent chats together: every decode holds every chat still generating', async () => {
    const watch = watchDecodeBatches(t.models);
    const replies = await Promise.all(
      [0, 1, 2, 3].map((i) => t.post('/v1/chat', { messages: [user(`Where is my order number ${i}?`)] })),
    );
    watch.stop();
    for (const reply of replies) expect(reply.statusCode).toBe(200);
    const batches = watch.batches.map((batch) => new Set(batch.map((part) => part.sequence)));
    // A chat generates from its first decode to its last; in between it is in every one.
    const span = new Map<number, { first: number; last: number }>();
    batches.forEach((batch, index) => {
      for (const sequence of batch) span.set(sequence, { first: span.get(sequence)?.first ?? index, last: index });
    });
    expect(span.size).toBe(4);
    expect(Math.min(...replies.map((reply) => reply.json().usage.completionTokens))).toBeGreaterThan(2);
    const missing = batches.flatMap((batch, index) =>
      [...span]
        .filter(([sequence, { first, last }]) => first <= index && index <= last && !batch.has(sequence))
        .map(([sequence]) => ({ decode: index, sequence })),
    );
    expect(missing).toEqual([]);
  });
});
