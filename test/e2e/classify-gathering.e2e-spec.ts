import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { Token } from 'node-llama-cpp';
import { AppConfig } from '../../src/config/app-config.js';
import type { ClassifiedText } from '../../src/modules/model/classification/classification.types.js';
import { InferenceService } from '../../src/modules/model/inference.service.js';
import { RequestAbortedError } from '../../src/modules/model/model.errors.js';
import { classifyPrompt } from '../../src/prompts/layouts.js';
import type { ClassifyTask } from '../../src/prompts/task-definitions.js';
import { classificationParts, sentimentTask } from '../support/builtin-tasks.js';
import { watchDecodeBatches } from '../support/decode-batch-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml');
/** A window no test waits out (the tests' own timeouts are shorter): a round that needs it never starts. */
const WINDOW_NOBODY_WAITS_OUT = '60000';
const WORDS = ['please', 'help', 'me', 'with', 'my', 'order', 'today'];

type Answer = { label: string | null; confidence: number; scores: Record<string, number> };

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Every sequence held by `useSeveral` (holding `prefix`) until released: the pool's line fills behind them. */
async function holdEverySequence(t: TestApp, prefix: readonly Token[] = []) {
  const { pool } = t.scheduler;
  const holds = Array.from({ length: pool.size }, () => {
    const hold = { id: -1, release: () => {}, done: Promise.resolve() };
    hold.done = pool.useSeveral(prefix, 1, ([sequence]) => {
      hold.id = pool.orderOf(sequence);
      return new Promise<void>((resolve) => (hold.release = resolve));
    });
    return hold;
  });
  await until(() => holds.every((hold) => hold.id >= 0));
  return {
    /** Gives the sequences back one by one, in this order of ids. */
    async release(ids: readonly number[]) {
      for (const id of ids) {
        const hold = holds.find((h) => h.id === id)!;
        hold.release();
        await hold.done;
      }
    },
  };
}

/**
 * How far a score may move with the shape of the batches a text is evaluated in (one sequence, or
 * four cut at BATCH_SIZE): the tiny model's random weights amplify rounding to ~0.012 here.
 */
const SHAPE_TOLERANCE = 0.03;

/** A task's answer equal to the one alone up to the batch shape: every score, and the label or one tied with it. */
function expectSameAnswer(gathered: Answer, alone: Answer): void {
  expect(Object.keys(gathered.scores)).toEqual(Object.keys(alone.scores));
  for (const [label, score] of Object.entries(alone.scores))
    expect(Math.abs(gathered.scores[label] - score)).toBeLessThan(SHAPE_TOLERANCE);
  const best = Math.max(...Object.values(alone.scores));
  const tied = Object.keys(alone.scores).filter((label) => alone.scores[label] > best - SHAPE_TOLERANCE);
  expect(tied).toContain(gathered.label);
}

describe('single classifications gathered into rounds (SENTIMENT_BATCHING=throughput)', () => {
  let t: TestApp;
  let tasks: Map<string, ClassifyTask>;
  /** Tokens of a text's first evaluation under a task: the text and the task's question. */
  let firstTokens: (task: string, text: string) => number;
  /** Four requests of different tasks (one a triage), texts lengthened to near one first-evaluation length. */
  let requests: Array<{ url: string; body: { text: string; tasks?: string[] } }>;
  let aloneReplies: Record<string, unknown>[];
  const classify = (text: string, signal: AbortSignal) => {
    const sentiment = tasks.get('sentiment')!;
    return t.app.get(InferenceService).classify(
      {
        texts: [text],
        questions: [
          {
            ...classifyPrompt(sentiment, sentiment.labels),
            labels: sentiment.labels.map((label) => label.name),
            maxInputTokens: sentiment.maxInputTokens,
          },
        ],
      },
      signal,
    );
  };
  const abortTexts = [PROBE_TEXTS[0], PROBE_TEXTS[2], PROBE_TEXTS[4], PROBE_TEXTS[5]];
  const aloneDirect: ClassifiedText[][] = [];

  beforeAll(async () => {
    t = await startTestApp({
      TASKS_FILE,
      SEQUENCES: '4',
      // Rounds over every sequence: none kept for the chat task (traffic classes are tested apart).
      INTERACTIVE_SEQUENCES: '0',
      SENTIMENT_BATCHING: 'throughput',
      BATCHING_WINDOW_MS: WINDOW_NOBODY_WAITS_OUT,
    });
    const config = t.app.get(AppConfig);
    tasks = new Map(
      config.tasks.filter((task) => task.kind === 'classify').map((task) => [task.name, task as ClassifyTask]),
    );
    firstTokens = (task, text) => {
      const prompt = classificationParts(t.models.model, text, tasks.get(task)!);
      return prompt.text.length + prompt.question.length;
    };
    // The department request stays a token or two short: the round pads it.
    const base = [
      { url: '/v1/classify/sentiment', task: 'sentiment', text: PROBE_TEXTS[0], short: 0 },
      { url: '/v1/classify/urgency', task: 'urgency', text: PROBE_TEXTS[3], short: 0 },
      { url: '/v1/classify/department', task: 'department', text: PROBE_TEXTS[5], short: 2 },
      {
        url: '/v1/triage',
        task: 'department',
        text: PROBE_TEXTS[2],
        tasks: ['department', 'sentiment', 'urgency'],
        short: 0,
      },
    ];
    const target = Math.max(...base.map(({ task, text }) => firstTokens(task, text)));
    requests = base.map(({ url, task, text, tasks: asked, short }) => {
      let lengthened = text;
      for (let i = 0; firstTokens(task, lengthened) < target - short; i++) lengthened += ` ${WORDS[i % WORDS.length]}`;
      return { url, body: asked ? { text: lengthened, tasks: asked } : { text: lengthened } };
    });
    // Alone first: each is a round of one, started at once (the window would outlast this hook).
    aloneReplies = [];
    for (const { url, body } of requests) aloneReplies.push((await t.post(url, body)).json());
    for (const text of abortTexts) aloneDirect.push(await classify(text, new AbortController().signal));
  });
  afterAll(() => t.close());

  const metric = async (members: number) => {
    const text = (await t.get('/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`duet_gathered_rounds_total{members="${members}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it('starts a lone request at once, not after the window', async () => {
    const before = await metric(1);
    const res = await t.post('/v1/classify/urgency', { text: PROBE_TEXTS[1] });
    expect(res.statusCode).toBe(200);
    expect(await metric(1)).toBe(before + 1);
    expect(await metric(4)).toBe(0);
  }, 10_000);

  it('evaluates requests of any task arriving together as one round: one length, sequences in id order', async () => {
    // Every sequence busy: the four requests wait in line, so all four are on their way before any
    // can join. The sequences come free in the order 2, 0, 1, 3.
    const held = await holdEverySequence(t);
    const watch = watchDecodeBatches(t.models);
    const replies = requests.map(({ url, body }) => t.post(url, body));
    await until(() => t.scheduler.load().queued === 4);
    await held.release([2, 0, 1, 3]);
    const gathered = (await Promise.all(replies)).map((res: LightMyRequestResponse) => {
      expect(res.statusCode).toBe(200);
      return res.json();
    });
    watch.stop();
    expect(await metric(4)).toBe(1);

    // The round: the first decodes of several sequences (system prompts go one sequence at a time).
    // node-llama-cpp cuts it at BATCH_SIZE tokens; each cut holds every sequence alike.
    const firstTask = (url: string, body: { tasks?: string[] }) => body.tasks?.[0] ?? url.split('/').pop()!;
    const lengths = requests.map(({ url, body }) => firstTokens(firstTask(url, body), body.text));
    const padded = Math.max(...lengths);
    expect(Math.min(...lengths)).toBeLessThan(padded);
    let covered = 0;
    for (const batch of watch.batches.filter((b) => b.length > 1)) {
      if (covered >= padded) break;
      expect(batch.map((part) => part.sequence)).toEqual([0, 1, 2, 3]);
      expect(new Set(batch.map((part) => part.tokens)).size).toBe(1);
      covered += batch[0].tokens;
    }
    expect(covered).toBe(padded);

    // Each request got its own answer: the one it gets alone.
    gathered.forEach((reply, i) => {
      const alone = aloneReplies[i] as Record<string, any>;
      expect(reply.usage).toEqual(alone.usage);
      if (reply.results)
        for (const task of Object.keys(alone.results)) expectSameAnswer(reply.results[task], alone.results[task]);
      else expectSameAnswer(reply, alone as Answer);
    });
  });

  it('keeps errors per request: one member aborted, the others get their own answers', async () => {
    // The round of four starts (every sequence has a member) and waits for its turn at the decode lock.
    const lock = t.scheduler.decodeLock;
    const release = await lock.exclusive();
    let turnsAsked = 0;
    const shared = lock.shared.bind(lock);
    lock.shared = () => (turnsAsked++, shared());
    const aborted = new AbortController();
    const results = abortTexts.map((text, i) =>
      classify(text, i === 1 ? aborted.signal : new AbortController().signal).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
    await until(() => turnsAsked === 4);
    lock.shared = shared;
    aborted.abort('client gone');
    release();
    const settled = await Promise.all(results);
    expect(settled[1]).toEqual({ error: expect.any(RequestAbortedError) });
    for (const i of [0, 2, 3]) {
      const { value } = settled[i] as { value: ClassifiedText[] };
      expect(value[0].answers[0].chosen).toBe(aloneDirect[i][0].answers[0].chosen);
      expect(value[0].promptTokens).toBe(aloneDirect[i][0].promptTokens);
    }
  });
});

describe('sequence order (default mode)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Every sequence open to classifications: none kept for the chat task (traffic classes are tested apart).
    t = await startTestApp({ SEQUENCES: '4', INTERACTIVE_SEQUENCES: '0', CHAT_MAX_TOKENS: '12' });
  });
  afterAll(() => t.close());

  it('gives a request the lowest-id idle sequence that holds its prefix', async () => {
    const { prefix } = classificationParts(t.models.model, PROBE_TEXTS[0], sentimentTask);
    const held = await holdEverySequence(t, prefix);
    await held.release([3, 1, 2, 0]); // every one holds the prefix; 0 has been idle the shortest
    const watch = watchDecodeBatches(t.models);
    expect((await t.post('/v1/sentiment', { text: PROBE_TEXTS[0] })).statusCode).toBe(200);
    watch.stop();
    expect(new Set(watch.batches.flat().map((part) => part.sequence))).toEqual(new Set([0]));
  });

  it('makes generation steps of concurrent chats reach llama.cpp in ascending sequence order', async () => {
    const watch = watchDecodeBatches(t.models);
    const replies = await Promise.all(
      [0, 1, 2, 3].map((i) => t.post('/v1/chat', { messages: [{ role: 'user', content: `Where is order ${i}?` }] })),
    );
    watch.stop();
    for (const reply of replies) expect(reply.statusCode).toBe(200);
    const shared = watch.batches.filter((batch) => batch.length > 1);
    expect(shared.length).toBeGreaterThan(0);
    for (const batch of shared) {
      const sequences = batch.map((part) => part.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    }
  });
});
