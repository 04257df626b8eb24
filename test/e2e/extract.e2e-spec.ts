import { join } from 'node:path';
import { startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'extract.yaml');
const ticket = 'Order 88123: the kettle arrived broken, I want my money back.';

describe('extract tasks: POST /v1/extract/{task}', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TASKS_FILE });
  });
  afterAll(() => t.close());

  it('answers with data valid against the task schema, why it ended, usage and the model', async () => {
    const res = await t.post('/v1/extract/ticket', { text: ticket });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      task: 'ticket',
      data: { orderNumber: expect.any(String), product: expect.any(String), action: expect.any(String) },
      finishReason: 'stop',
      usage: { promptTokens: expect.any(Number), completionTokens: expect.any(Number) },
      model: 'duet-fixture-tiny-seed20261123',
    });
    expect(body.data.orderNumber.length).toBeLessThanOrEqual(8);
    expect(body.data.product.length).toBeLessThanOrEqual(10);
    expect(['refund', 'exchange', 'track', 'other']).toContain(body.data.action);
    expect(body.usage.completionTokens).toBeLessThanOrEqual(64);
  });

  it('refuses an unknown task (404), another kind of task (400) and an empty text (400)', async () => {
    expect((await t.post('/v1/extract/nope', { text: ticket })).statusCode).toBe(404);
    expect((await t.post('/v1/extract/chat', { text: ticket })).statusCode).toBe(400);
    expect((await t.post('/v1/extract/ticket', { text: '  ' })).statusCode).toBe(400);
  });

  it('GET /v1/tasks shows the extract task with its instruction and schema', async () => {
    const { tasks } = (await t.get('/v1/tasks')).json();
    expect(tasks.find((task: { name: string }) => task.name === 'ticket')).toMatchObject({
      kind: 'extract',
      instruction: expect.stringContaining('order number'),
      schema: expect.objectContaining({ required: ['orderNumber', 'product', 'action'] }),
      maxTokens: 64,
    });
  });
});
