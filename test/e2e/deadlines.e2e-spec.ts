import { occupySequence, startTestApp, TestApp } from '../support/test-app.js';

describe('deadlines: X-Request-Timeout, refusal by expected finish, drop before start', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '1' });
  });
  afterAll(() => t.close());

  const occupy = () => occupySequence(t);

  it('answers a malformed X-Request-Timeout with 400 naming the header', async () => {
    const res = await t.post('/v1/sentiment', { text: 'fine' }, { 'x-request-timeout': 'soon' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      details: [{ field: 'X-Request-Timeout', problems: [expect.stringMatching(/positive integer of milliseconds/)] }],
    });
  });

  it('refuses at once what would finish after its deadline, with Retry-After computed from the work ahead', async () => {
    // The warm-up measured a text; 10,000 interactive texts admitted ahead take minutes at any speed,
    // and a batch request waits for all of them, whoever sent them (another client's batch work
    // would count only as much as its own, see the fair share).
    const ahead = t.scheduler.admit({ trafficClass: 'interactive', kind: 'classification', units: 10_000 });
    try {
      const started = Date.now();
      const res = await t.post('/v1/sentiment', { text: 'in a hurry' }, { 'x-request-timeout': '5000' });
      expect(Date.now() - started).toBeLessThan(1000); // refused, not waited on
      expect(res.statusCode).toBe(503);
      const { message, details } = res.json();
      expect(message).toMatch(/past its deadline in \d+ ms; retry shortly\.$/);
      expect(details).toMatchObject({ reason: 'deadline_unreachable', deadlineInMs: expect.any(Number) });
      expect(details.deadlineInMs).toBeLessThanOrEqual(5000);
      // Late by what it expects minus what it had: once that much of the work ahead is done, it fits.
      const late = Math.ceil((details.expectedMs - details.deadlineInMs) / 1000);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(late - 1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(late + 1);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(1);
      // Without the header the 30 s of REQUEST_TIMEOUT_MS are not enough either.
      expect((await t.post('/v1/sentiment', { text: 'patient' })).json().details.reason).toBe('deadline_unreachable');
    } finally {
      ahead.end();
    }
    expect((await t.post('/v1/sentiment', { text: 'room again' }, { 'x-request-timeout': '5000' })).statusCode).toBe(
      200,
    );
  });

  it('refuses a deadline shorter than the request alone would take', async () => {
    const res = await t.post('/v1/sentiment', { text: 'no time at all' }, { 'x-request-timeout': '1' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1'); // nothing ahead: asking again with a longer deadline may work now
    expect(res.json().details.reason).toBe('deadline_unreachable');
  });

  it('drops admitted work whose deadline passes before it starts with 503, not 504', async () => {
    const free = occupy();
    try {
      const started = Date.now();
      const res = await t.post('/v1/sentiment', { text: 'waiting in line' }, { 'x-request-timeout': '1500' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(res.statusCode).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.json()).toMatchObject({
        message: expect.stringMatching(/deadline \(1500 ms\) passed before its work could start/),
        details: { reason: 'deadline_before_start', deadlineMs: 1500 },
      });
    } finally {
      await free();
    }
  });

  it('fails a batch whose later item would start past the deadline as a whole, with 503', async () => {
    // Long texts, so the first item is still running when the interactive holder queues behind it.
    const items = Array.from({ length: 3 }, (_, i) => ({ text: `${i}: ${'great food, slow service. '.repeat(60)}` }));
    // Texts that long measured first: the estimate is of them (a text counts by its length against
    // those measured lately), not of the short ones above and the sequence held a second and a half.
    for (let i = 0; i < 8; i++) await t.post('/v1/sentiment', { text: `${i}${items[0].text}` });
    const batch = t.post('/v1/sentiment/batch', { items }, { 'x-request-timeout': '1500' });
    while (t.scheduler.load().busy === 0) await new Promise((resolve) => setImmediate(resolve));
    // Interactive work is served first: the held sequence goes to it when the first item is done,
    // and the second item waits in line until the batch's deadline.
    const free = occupy();
    try {
      const res = await batch;
      expect(res.statusCode).toBe(503);
      expect(res.json().details.reason).toBe('deadline_before_start');
    } finally {
      await free();
    }
  });

  it('counts refusals and drops before start in /metrics by reason and class', async () => {
    const metrics = (await t.get('/metrics')).body;
    const count = (reason: string, trafficClass: string) =>
      Number(
        new RegExp(`^duet_requests_refused_total\\{reason="${reason}",class="${trafficClass}"\\} (\\d+)$`, 'm').exec(
          metrics,
        )?.[1],
      );
    // The tests above: three deadline_unreachable and two deadline_before_start refusals, all of the
    // sentiment task's batch class; nothing refused for a full line, nothing interactive.
    expect(count('deadline_unreachable', 'batch')).toBe(3);
    expect(count('deadline_before_start', 'batch')).toBe(2);
    expect(count('queue_full', 'batch')).toBe(0);
    expect(count('deadline_unreachable', 'interactive')).toBe(0);
  });
});
