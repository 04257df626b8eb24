import { join } from 'node:path';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILES = join(import.meta.dirname, '..', 'fixtures', 'tasks');
const TASKS = ['sentiment', 'urgency', 'department'];
const TEXTS = PROBE_TEXTS.slice(0, 4);

type Answer = { label: string | null; confidence: number; scores: Record<string, number> };

/**
 * The default (deterministic) mode's promise: a task's answer is the same, bit for bit, whether it
 * is asked alone, within triage, within a batch, or while other requests run. Every number is
 * compared exactly (toEqual on floats). With every task text-first, and with urgency
 * question-first, whose text a triage evaluates once more after urgency's own start.
 */
describe.each([
  ['every task text-first', 'triage.yaml'],
  ['urgency question-first', 'triage-mixed-layouts.yaml'],
])('bit-identical answers: alone, in triage, in a batch, under concurrent load (%s)', (_layouts, file) => {
  const TASKS_FILE = join(TASKS_FILES, file);
  let t: TestApp;
  const alone = new Map<string, Answer>();
  const key = (task: string, text: string) => `${task}\u0000${text}`;
  const answerOf = ({ task: _task, usage: _usage, model: _model, ...answer }: Record<string, unknown>) => answer;

  beforeAll(async () => {
    t = await startTestApp({ TASKS_FILE, SEQUENCES: '4' });
    for (const text of TEXTS) {
      for (const task of TASKS)
        alone.set(key(task, text), answerOf((await t.post(`/v1/classify/${task}`, { text })).json()) as Answer);
    }
  });
  afterAll(() => t.close());

  it('triage gives each task its alone answer', async () => {
    for (const text of TEXTS) {
      const { results } = (await t.post('/v1/triage', { text })).json();
      for (const task of TASKS) expect(results[task]).toEqual(alone.get(key(task, text)));
    }
  });

  it('batches give each text its alone answer, on every route that batches', async () => {
    const items = TEXTS.map((text) => ({ text }));
    for (const task of TASKS) {
      const { results } = (await t.post(`/v1/classify/${task}/batch`, { items })).json();
      results.forEach(({ id: _id, ...answer }: Answer & { id: string }, i: number) =>
        expect(answer).toEqual(alone.get(key(task, TEXTS[i]))),
      );
    }
    const triaged = (await t.post('/v1/triage/batch', { items })).json().results;
    triaged.forEach(({ results }: { results: Record<string, Answer> }, i: number) => {
      for (const task of TASKS) expect(results[task]).toEqual(alone.get(key(task, TEXTS[i])));
    });
  });

  it('8 concurrent mixed requests (triage, single, batch, chat) still get the alone answers', async () => {
    const chat = { messages: [{ role: 'user', content: 'Where is my parcel?' }] };
    const requests = [
      t.post('/v1/triage', { text: TEXTS[0] }),
      t.post('/v1/classify/urgency', { text: TEXTS[1] }),
      t.post('/v1/chat', chat),
      t.post('/v1/triage/batch', { items: TEXTS.map((text) => ({ text })) }),
      t.post('/v1/sentiment', { text: TEXTS[2] }),
      t.post('/v1/chat/acme', chat),
      t.post('/v1/classify/department/batch', { items: TEXTS.map((text) => ({ text })) }),
      t.post('/v1/triage', { text: TEXTS[3], tasks: ['department', 'sentiment'] }),
    ];
    const [triage0, urgency1, chatReply, triageBatch, sentiment2, acmeReply, departmentBatch, triage3] = (
      await Promise.all(requests)
    ).map((res) => {
      expect(res.statusCode).toBe(200);
      return res.json();
    });
    for (const task of TASKS) expect(triage0.results[task]).toEqual(alone.get(key(task, TEXTS[0])));
    expect(answerOf(urgency1)).toEqual(alone.get(key('urgency', TEXTS[1])));
    expect(answerOf(sentiment2)).toEqual(alone.get(key('sentiment', TEXTS[2])));
    triageBatch.results.forEach(({ results }: { results: Record<string, Answer> }, i: number) => {
      for (const task of TASKS) expect(results[task]).toEqual(alone.get(key(task, TEXTS[i])));
    });
    departmentBatch.results.forEach(({ id: _id, ...answer }: Answer & { id: string }, i: number) =>
      expect(answer).toEqual(alone.get(key('department', TEXTS[i]))),
    );
    expect(triage3.results.department).toEqual(alone.get(key('department', TEXTS[3])));
    expect(triage3.results.sentiment).toEqual(alone.get(key('sentiment', TEXTS[3])));
    expect(chatReply.reply.length).toBeGreaterThan(0);
    expect(acmeReply.reply.length).toBeGreaterThan(0);
  });

  it('a fresh app without the prefix cache gives the same answers (reused compute equals fresh)', async () => {
    const fresh = await startTestApp({ TASKS_FILE, SEQUENCES: '4', PREFIX_CACHE: 'false' });
    try {
      for (const text of TEXTS) {
        const { results } = (await fresh.post('/v1/triage', { text })).json();
        for (const task of TASKS) expect(results[task]).toEqual(alone.get(key(task, text)));
      }
    } finally {
      await fresh.close();
    }
  });
});
