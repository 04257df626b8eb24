import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });
const LABEL_SETS = [undefined, ['positive', 'negative'], ['negative', 'neutral']];

/** A fixed list of requests touching every variant: label subsets, chat with two maxChars. */
function probeRequests() {
  return [
    ...PROBE_TEXTS.flatMap((text) =>
      LABEL_SETS.map((labels) => ['/v1/sentiment', labels ? { text, labels } : { text }] as const),
    ),
    [
      '/v1/sentiment/batch',
      { items: PROBE_TEXTS.map((text) => ({ text })), labels: ['positive', 'negative'] },
    ] as const,
    ['/v1/chat', { messages: [user('Where is my parcel?')] }] as const,
    [
      '/v1/chat',
      { messages: [user('你好'), { role: 'assistant', content: '你好！' }, user('几点关门？')], maxChars: 30 },
    ] as const,
  ];
}

async function answers(t: TestApp): Promise<string[]> {
  const bodies = [];
  for (const [url, body] of probeRequests()) bodies.push((await t.post(url, body)).body);
  return bodies;
}

describe('system-prompt prefix reuse', () => {
  it('gives byte-identical answers with and without the prefix cache, and really reuses it', async () => {
    const cached = await startTestApp({ PREFIX_CACHE: 'true', SEQUENCES: '2' });
    const uncached = await startTestApp({ PREFIX_CACHE: 'false', SEQUENCES: '2' });
    try {
      const [a, b] = [await answers(cached), await answers(uncached)];
      expect(a).toEqual(b);
      expect(a.every((body) => !body.includes('"statusCode"'))).toBe(true);

      // Sentiment is question-first: each classification of a short text is one exclusive decode
      // (the text and the end of its turn), and each prefix evaluation another. Cached, no prefix
      // is evaluated at all: a sequence still holds sentiment's system turn, whatever label subsets
      // the earlier requests asked for (a subset restricts only the scoring).
      const withCache = watchDecodeLock(cached);
      const withoutCache = watchDecodeLock(uncached);
      for (const text of PROBE_TEXTS) {
        const [x, y] = [await cached.post('/v1/sentiment', { text }), await uncached.post('/v1/sentiment', { text })];
        expect(x.body).toEqual(y.body);
      }
      expect(withoutCache.exclusive).toBe(2 * PROBE_TEXTS.length);
      expect(withCache.exclusive).toBe(PROBE_TEXTS.length);
    } finally {
      await cached.close();
      await uncached.close();
    }
  });

  it('leaves no trace after 1,000 mixed concurrent requests: probes match a fresh app bit for bit', async () => {
    const warm = await startTestApp({ SEQUENCES: '4', CHAT_MAX_TOKENS: '16' });
    let afterTraffic: string[];
    try {
      let next = 0;
      const texts = [...PROBE_TEXTS, 'The app crashed twice today.', '价格还行，就是送得太慢了。'];
      const traffic = async () => {
        while (next < 1000) {
          const i = next++;
          const text = texts[i % texts.length] + ` #${i}`;
          if (i % 10 === 0) await warm.post('/v1/chat', { messages: [user(text)], maxChars: 20 + (i % 3) * 10 });
          else if (i % 10 === 1)
            await warm.post('/v1/sentiment/batch', { items: [{ text }, { text: texts[(i + 1) % texts.length] }] });
          else await warm.post('/v1/sentiment', { text, ...(LABEL_SETS[i % 3] ? { labels: LABEL_SETS[i % 3] } : {}) });
        }
      };
      await Promise.all([traffic(), traffic(), traffic(), traffic()]);
      afterTraffic = await answers(warm);
    } finally {
      await warm.close();
    }
    const fresh = await startTestApp({ SEQUENCES: '4', CHAT_MAX_TOKENS: '16' });
    try {
      expect(await answers(fresh)).toEqual(afterTraffic);
    } finally {
      await fresh.close();
    }
  }, 300_000);
});
