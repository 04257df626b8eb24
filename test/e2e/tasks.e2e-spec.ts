import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config.js';
import type { ClassifyTask } from '../../src/prompts/task-definitions.js';
import { classificationPrompt, SENTIMENT_LABELS } from '../support/builtin-tasks.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml');
const URGENCY = ['urgent', 'normal', 'low'];
const DEPARTMENT = ['billing', 'bill', 'bill dispute', 'technical', '物流'];
const ticket = 'My card was charged twice for order 1234 and the app crashes when I open the invoice.';
const user = (content: string) => ({ role: 'user', content });

/** A label answer: the label among the allowed ones, scores over exactly those, summing to 1. */
function expectAnswer(answer: Record<string, any>, labels: readonly string[]) {
  expect(Object.keys(answer.scores)).toEqual(labels);
  expect(Object.values<number>(answer.scores).reduce((a, b) => a + b)).toBeCloseTo(1, 10);
  if (answer.abstained) {
    expect(answer.label).toBeNull();
  } else {
    expect(labels).toContain(answer.label);
    expect(answer.scores[answer.label]).toBe(answer.confidence);
    expect(Math.max(...Object.values<number>(answer.scores))).toBe(answer.confidence);
  }
}

describe('operator tasks from TASKS_FILE (no code)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TASKS_FILE });
  });
  afterAll(() => t.close());

  it("GET /v1/tasks lists the built-in and the file's tasks, with labels or caps, and no persona", async () => {
    const res = await t.get('/v1/tasks');
    expect(res.statusCode).toBe(200);
    const { tasks } = res.json();
    expect(tasks.map((task: { name: string; kind: string }) => `${task.name}:${task.kind}`)).toEqual([
      'sentiment:classify',
      'chat:chat',
      'urgency:classify',
      'department:classify',
      'acme:chat',
    ]);
    expect(tasks[2]).toEqual({
      name: 'urgency',
      kind: 'classify',
      instruction: 'How urgent is this support ticket?',
      labels: [
        { name: 'urgent', description: 'service down, payment failed, data lost, safety' },
        { name: 'normal', description: 'a problem that has a workaround' },
        { name: 'low', description: 'a question, feedback or a request for information' },
      ],
      layout: 'text-first',
      minConfidence: 0.2,
      maxInputTokens: 1024,
      class: 'batch',
    });
    expect(tasks[4]).toEqual({
      name: 'acme',
      kind: 'chat',
      maxChars: 120,
      maxTokens: 16,
      maxInputTokens: 1024,
      class: 'interactive',
    });
  });

  it('POST /v1/classify/{task} answers with one of its labels, scores over all of them and usage', async () => {
    for (const [task, labels] of [
      ['urgency', URGENCY],
      ['department', DEPARTMENT],
    ] as const) {
      const res = await t.post(`/v1/classify/${task}`, { text: ticket });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ task, model: 'duet-fixture-tiny-seed20261123' });
      expect(body.usage.promptTokens).toBeGreaterThan(30);
      expectAnswer(body, labels);
    }
  });

  it('restricts the answer to a label subset, and refuses labels the task does not have', async () => {
    const body = (await t.post('/v1/classify/department', { text: ticket, labels: ['technical', '物流'] })).json();
    expectAnswer(body, ['technical', '物流']);
    const res = await t.post('/v1/classify/department', { text: ticket, labels: ['technical', 'sales'] });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe(
      'labels: "sales" not a label of task "department"; its labels: billing, bill, bill dispute, technical, 物流',
    );
  });

  it("abstains below minConfidence, the request's before the task's", async () => {
    const sure = (await t.post('/v1/classify/urgency', { text: ticket, minConfidence: 0 })).json();
    expect(sure.abstained).toBeUndefined();
    expectAnswer(sure, URGENCY);
    const unsure = (await t.post('/v1/classify/urgency', { text: ticket, minConfidence: 1 })).json();
    expect(unsure).toMatchObject({ label: null, abstained: true, confidence: sure.confidence, scores: sure.scores });
    // The task's own minConfidence (0.2) is below a three-label softmax's least possible winner (1/3).
    expect((await t.post('/v1/classify/urgency', { text: ticket })).json().abstained).toBeUndefined();
  });

  it('POST /v1/classify/{task}/batch answers in input order, each equal to its single call', async () => {
    const items = PROBE_TEXTS.map((text, i) => (i % 2 ? { id: `t-${i}`, text } : { text }));
    const res = await t.post('/v1/classify/urgency/batch', { items });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.task).toBe('urgency');
    expect(body.results.map((r: { id: string }) => r.id)).toEqual(items.map((item, i) => item.id ?? String(i)));
    let promptTokens = 0;
    for (const [i, item] of items.entries()) {
      const single = (await t.post('/v1/classify/urgency', { text: item.text })).json();
      const { id: _id, ...answer } = body.results[i];
      expect(answer).toEqual({ label: single.label, confidence: single.confidence, scores: single.scores });
      promptTokens += single.usage.promptTokens;
    }
    expect(body.usage.promptTokens).toBe(promptTokens);
  });

  it('POST /v1/triage answers every classify task from one evaluation of the text, each as if asked alone', async () => {
    const res = await t.post('/v1/triage', { text: ticket });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body.results)).toEqual(['sentiment', 'urgency', 'department']);
    let singlesTokens = 0;
    for (const task of ['sentiment', 'urgency', 'department']) {
      const {
        task: _task,
        usage,
        model: _model,
        ...alone
      } = (await t.post(`/v1/classify/${task}`, { text: ticket })).json();
      expect(body.results[task]).toEqual(alone);
      singlesTokens += usage.promptTokens;
    }
    // The start, the text and the question lead after it are evaluated once, not three times
    // (the fixture's sentiment is text-first, like the other two).
    const sentiment = t.app.get(AppConfig).tasks.find((task) => task.name === 'sentiment') as ClassifyTask;
    const { textEnd } = classificationPrompt(t.models.model, ticket, SENTIMENT_LABELS, sentiment);
    expect(singlesTokens - body.usage.promptTokens).toBe(2 * textEnd);
  });

  it('POST /v1/triage with named tasks, and /v1/triage/batch', async () => {
    const some = (await t.post('/v1/triage', { text: ticket, tasks: ['department', 'urgency'] })).json();
    expect(Object.keys(some.results)).toEqual(['department', 'urgency']);
    const res = await t.post('/v1/triage/batch', {
      items: [{ id: 'a', text: ticket }, { text: PROBE_TEXTS[2] }],
      tasks: ['urgency', 'department'],
    });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { id: string }) => r.id)).toEqual(['a', '1']);
    expect(results[0].results).toEqual({ department: some.results.department, urgency: some.results.urgency });
    expectAnswer(results[1].results.department, DEPARTMENT);
  });

  it('serves a chat task under /v1/chat/{task} and as the model of /v1/chat/completions', async () => {
    const own = (await t.post('/v1/chat/acme', { messages: [user('Do you ship to Canada?')] })).json();
    const builtIn = (await t.post('/v1/chat', { messages: [user('Do you ship to Canada?')] })).json();
    expect(own.usage.completionTokens).toBeLessThanOrEqual(16); // acme's maxTokens
    expect(own.usage.promptTokens).not.toBe(builtIn.usage.promptTokens); // its own persona
    const completion = (
      await t.post('/v1/chat/completions', { model: 'acme', messages: [user('Do you ship to Canada?')] })
    ).json();
    expect(completion.choices[0].message.content).toBe(own.reply);
    expect(completion.usage.prompt_tokens).toBe(own.usage.promptTokens);
    const models = (await t.get('/v1/models')).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['duet-fixture-tiny-seed20261123', 'chat', 'acme']);
  });

  it.each([
    [
      'an unknown classify task',
      '/v1/classify/priority',
      { text: ticket },
      404,
      /^Unknown task "priority"; known tasks: sentiment, chat, urgency, department, acme$/,
    ],
    ['an unknown chat task', '/v1/chat/nobody', { messages: [user('hi')] }, 404, /^Unknown task "nobody"/],
    [
      'an unknown triage task',
      '/v1/triage',
      { text: ticket, tasks: ['urgency', 'priority'] },
      404,
      /^Unknown task "priority"/,
    ],
    [
      'a chat task on a classify route',
      '/v1/classify/acme',
      { text: ticket },
      400,
      /^Task "acme" is a chat task; this route serves classify tasks$/,
    ],
    [
      'a classify task on a chat route',
      '/v1/chat/urgency',
      { messages: [user('hi')] },
      400,
      /^Task "urgency" is a classify task; this route serves chat tasks$/,
    ],
    ['a chat task in triage', '/v1/triage', { text: ticket, tasks: ['acme'] }, 400, /^Task "acme" is a chat task/],
    [
      "maxChars above the task's",
      '/v1/chat/acme',
      { messages: [user('hi')], maxChars: 121 },
      400,
      /^maxChars must be at most 120 \(the acme task's maxChars\)$/,
    ],
  ])('answers %s with its status and a message naming it', async (_case, url, body, status, message) => {
    const res = await t.post(url, body);
    expect(res.statusCode).toBe(status);
    expect(res.json().message).toMatch(message);
  });

  describe('client system messages on /v1/chat/completions (CLIENT_SYSTEM_MESSAGES)', () => {
    const ask = async (app: TestApp, system?: string) => {
      const messages = [...(system ? [{ role: 'system', content: system }] : []), user('Do you ship to Canada?')];
      const res = await app.post('/v1/chat/completions', { model: 'acme', messages });
      expect(res.statusCode).toBe(200);
      return res.json().usage.prompt_tokens as number;
    };
    const instructions = 'Answer in French and mention order numbers.';

    it("append (default): the persona stays first and the client's instructions follow it", async () => {
      const without = await ask(t);
      const withInstructions = await ask(t, instructions);
      const native = (await t.post('/v1/chat/acme', { messages: [user('Do you ship to Canada?')] })).json();
      expect(without).toBe(native.usage.promptTokens);
      expect(withInstructions).toBeGreaterThan(without + 5); // a system turn of its own after the persona
    });

    it.each([
      ['ignore', (without: number, withInstructions: number) => expect(withInstructions).toBe(without)],
      ['replace', (without: number, withInstructions: number) => expect(withInstructions).toBeLessThan(without)],
    ])('%s', async (mode, check) => {
      const app = await startTestApp({ TASKS_FILE, CLIENT_SYSTEM_MESSAGES: mode });
      try {
        // The acme persona is longer than the instructions: replacing it shortens the prompt.
        check(await ask(app), await ask(app, instructions));
      } finally {
        await app.close();
      }
    });
  });

  it('exports labels and queue wait per task, time to first token and finish reasons per chat task', async () => {
    const app = await startTestApp({ TASKS_FILE });
    try {
      const urgency = (await app.post('/v1/classify/urgency', { text: ticket })).json();
      await app.post('/v1/classify/urgency', { text: ticket, minConfidence: 1 });
      const triage = (await app.post('/v1/triage', { text: ticket, tasks: ['department'] })).json();
      const chat = (await app.post('/v1/chat/acme', { messages: [user('Do you ship to Canada?')] })).json();
      const metrics = (await app.get('/metrics')).body;
      const value = (series: string) =>
        Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(value(`duet_labels_total{task="urgency",label="${urgency.label}"}`)).toBe(1);
      expect(value('duet_labels_total{task="urgency",label="abstained"}')).toBe(1);
      expect(value(`duet_labels_total{task="department",label="${triage.results.department.label}"}`)).toBe(1);
      expect(value('duet_queue_wait_seconds_count{task="urgency",class="batch"}')).toBe(2);
      expect(value('duet_queue_wait_seconds_count{task="triage",class="batch"}')).toBe(1);
      expect(value('duet_queue_wait_seconds_count{task="acme",class="interactive"}')).toBe(1);
      expect(value('duet_time_to_first_token_seconds_count{task="acme",class="interactive"}')).toBe(1);
      expect(value('duet_time_to_first_token_seconds_sum{task="acme",class="interactive"}')).toBeGreaterThan(0);
      expect(value(`duet_finish_reasons_total{task="acme",reason="${chat.finishReason}"}`)).toBe(1);
    } finally {
      await app.close();
    }
  });
});
