import { jest } from '@jest/globals';
import type { PoolRequest } from '../../src/modules/model/scheduling/sequence-pool.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('fair share: clients of a class take turns in the line', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '1', API_KEYS: 'flood-key, other-key' });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it("serves a second key's request next, ahead of the first key's backfill waiting before it", async () => {
    // Who asked for a sequence and who started on one, in order.
    const events: string[] = [];
    const pool = t.scheduler.pool;
    const useSeveral = pool.useSeveral.bind(pool);
    jest.spyOn(pool, 'useSeveral').mockImplementation((prefix, wanted, work, request: PoolRequest = {}) => {
      const who = request.client?.startsWith('key:') ? request.client.slice(4, 12) : 'none';
      events.push(`asked ${who}`);
      return useSeveral(
        prefix,
        wanted,
        (sequences, signal) => (events.push(`started ${who}`), work(sequences, signal)),
        request,
      );
    });
    const batch = { items: Array.from({ length: 4 }, (_, i) => ({ text: `backfill item ${i}` })) };
    const flood = Array.from({ length: 6 }, () => t.post('/v1/sentiment/batch', batch, auth('flood-key')));
    // One batch runs; the key's other five wait behind it (in its lane, see ClientLanes).
    while (t.scheduler.load().queued < 5) await new Promise((resolve) => setImmediate(resolve));
    const other = await t.post('/v1/sentiment', { text: 'my turn?' }, auth('other-key'));
    expect(other.statusCode).toBe(200);
    for (const res of await Promise.all(flood)) expect(res.statusCode).toBe(200);

    const floodClient = events[0].split(' ')[1];
    const otherClient = [...new Set(events.map((event) => event.split(' ')[1]))].find((who) => who !== floodClient);
    const asked = events.indexOf(`asked ${otherClient}`);
    const started = events.indexOf(`started ${otherClient}`);
    // Twenty backfill items waited before it; at most the one already running and the one whose
    // sequence was being handed out start before it.
    const backfillStartedBetween = events.slice(asked, started).filter((e) => e.startsWith('started')).length;
    expect(backfillStartedBetween).toBeLessThanOrEqual(1);
  });
});
