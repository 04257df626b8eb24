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
    // Prompts come in apart (a prompt may take several decodes, which others' steps share), and so
    // may each chat's first step after it; from the decode where every chat has taken that step
    // on, every decode holds every chat that has not finished.
    const seen = new Map<number, number[]>();
    batches.forEach((batch, index) => {
      for (const sequence of batch) seen.set(sequence, [...(seen.get(sequence) ?? []), index]);
    });
    expect(seen.size).toBe(4);
    expect(Math.min(...replies.map((reply) => reply.json().usage.completionTokens))).toBeGreaterThan(2);
    const steady = Math.max(...[...seen.values()].map((decodes) => decodes[1]));
    const span = new Map([...seen].map(([sequence, decodes]) => [sequence, { last: decodes[decodes.length - 1] }]));
    expect(steady).toBeLessThan(batches.length / 2);
    const missing = batches.flatMap((batch, index) =>
      [...span]
        .filter(([sequence, { last }]) => steady <= index && index <= last && !batch.has(sequence))
        .map(([sequence]) => ({ decode: index, sequence })),
    );
    expect(missing).toEqual([]);
  });

  it("lets a running chat's steps share the decodes of a new chat's long prompt", async () => {
    const watch = watchDecodeBatches(t.models);
    const replies = await Promise.all([
      t.post('/v1/chat', { messages: [user('Where is my order?')] }),
      t.post('/v1/chat', { messages: [user(`Please read this: ${'order status '.repeat(300)}`)] }),
    ]);
    watch.stop();
    for (const reply of replies) expect(reply.statusCode).toBe(200);
    // A prompt chunk of one chat evaluated together with a single-token step of the other.
    const shared = watch.batches.filter(
      (batch) => batch.some((part) => part.tokens > 1) && batch.some((part) => part.tokens === 1),
    );
    expect(shared.length).toBeGreaterThan(1);
  });
});
