import { BadRequestException } from '@nestjs/common';
import { errorBody, MAX_ERROR_BODY_BYTES } from '../../src/app/error-body.js';
import { MAX_JSON_DEPTH, MAX_JSON_ITEMS } from '../../src/http/json-body.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });

describe('error responses', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MAX_BODY_BYTES: '4096', CHAT_MAX_CHARS: '60' });
  });
  afterAll(() => t.close());

  const expectError = (res: { statusCode: number; json(): any }, status: number, message: RegExp) => {
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.statusCode).toBe(status);
    expect(typeof body.error).toBe('string');
    expect(body.message).toMatch(message);
    expect(Object.keys(body).every((k) => ['statusCode', 'error', 'message', 'details'].includes(k))).toBe(true);
    return body;
  };

  // Validation alone is covered without the model by the controllers' unit specs; these need the tasks.
  it.each([
    [
      'an unknown label',
      '/v1/sentiment',
      { text: 'hi', labels: ['positive', 'angry'] },
      /^labels: "angry" not a label of task "sentiment"; its labels: positive, negative, neutral$/,
    ],
    [
      "maxChars above the chat task's",
      '/v1/chat',
      { messages: [user('hi')], maxChars: 61 },
      /maxChars must be at most 60 \(the chat task's maxChars\)/,
    ],
  ])('400 for %s', async (_case, url, payload, message) => {
    expectError(await t.post(url, payload), 400, message);
  });

  it('400, not 500, for malformed JSON', async () => {
    expectError(await t.post('/v1/sentiment', '{"text": "unterminated'), 400, /JSON/);
  });

  it('400 for an empty JSON body', async () => {
    expectError(await t.post('/v1/sentiment', ''), 400, /./);
  });

  it('415 for a body that is not JSON', async () => {
    expectError(
      await t.post('/v1/sentiment', 'text=hello', { 'content-type': 'text/plain' }),
      415,
      /application\/json/,
    );
    expectError(
      await t.post('/v1/sentiment', 'text=hello', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      /application\/json/,
    );
  });

  it('413 for a body over MAX_BODY_BYTES', async () => {
    expectError(await t.post('/v1/sentiment', { text: 'a'.repeat(5000) }), 413, /4096-byte limit \(MAX_BODY_BYTES\)/);
  });

  it('413 for text over the token budget, saying how many tokens were allowed', async () => {
    const big = await startTestApp({ MAX_BODY_BYTES: String(1024 * 1024) });
    try {
      const text = '价格实惠，味道一般，送餐很慢。'.repeat(120);
      const body = expectError(await big.post('/v1/sentiment', { text }), 413, /at most 1024 are allowed/);
      expect(body.details.maxInputTokens).toBe(1024);
      expect(body.details.promptTokens).toBeGreaterThan(1024);
      const batch = expectError(
        await big.post('/v1/sentiment/batch', { items: [{ text: 'fine' }, { text }] }),
        413,
        /item 1/,
      );
      expect(batch.details.item).toBe(1);
      expectError(
        await big.post('/v1/chat', { messages: [user(text.repeat(2))] }),
        413,
        /chat task.*at most 1024 are allowed/,
      );
    } finally {
      await big.close();
    }
  });

  it('404 in the same shape for an unknown route', async () => {
    expectError(await t.get('/v1/nothing-here'), 404, /Cannot GET/);
  });

  it('an error body never exceeds its cap: details go first, then the end of the message', async () => {
    const res = await t.get(`/v1/${'a'.repeat(MAX_ERROR_BODY_BYTES)}`);
    expect(res.statusCode).toBe(404);
    expect(res.rawPayload.length).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES);
    expect(res.json().message).toMatch(/^Cannot GET \/v1\/a+…$/);
    const large = errorBody(new BadRequestException({ message: 'Invalid', details: 'x'.repeat(20_000) }), 4096);
    expect(large).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Invalid' });
  });

  describe('bodies that would take unbounded work', () => {
    let big: TestApp;
    beforeAll(async () => {
      big = await startTestApp({ MAX_BODY_BYTES: String(1024 * 1024) }, { load: false });
    });
    afterAll(() => big.close());

    const nested = (levels: number) => `{"text":"hi","x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;

    it.each([
      [
        `${MAX_JSON_DEPTH} levels (allowed)`,
        nested(MAX_JSON_DEPTH),
        /^Invalid request: x: property x should not exist$/,
      ],
      [`${MAX_JSON_DEPTH + 1} levels`, nested(MAX_JSON_DEPTH + 1), /body: .*deeper than 32 levels$/],
      ['200,000 levels (a stack overflow in class-transformer before)', nested(200_000), /deeper than 32 levels$/],
    ])('nesting of %s', async (_case, payload, message) => {
      expectError(await big.post('/v1/sentiment', payload), 400, message);
    });

    it.each([
      [
        `${MAX_JSON_ITEMS} items (allowed)`,
        MAX_JSON_ITEMS - 1,
        /^Invalid request: items: items must contain no more than 64 elements$/,
      ],
      [
        `${MAX_JSON_ITEMS + 1} items`,
        MAX_JSON_ITEMS,
        /^Invalid request: body: .*more than 2048 array elements and object fields in all$/,
      ],
    ])('a body of %s', async (_case, length, message) => {
      const items = Array.from({ length }, () => ({}));
      expectError(await big.post('/v1/sentiment/batch', { items }), 400, message);
    });

    it('300,000 empty messages get one short problem, not 66 MB of them', async () => {
      const res = await big.post('/v1/chat', { messages: Array.from({ length: 300_000 }, () => ({})) });
      expect(expectError(res, 400, /more than 2048 array elements/).details).toHaveLength(1);
      expect(res.rawPayload.length).toBeLessThan(1024);
    });

    it("an oversize messages on /v1/chat/completions is named in OpenAI's envelope, as its param", async () => {
      const res = await big.post('/v1/chat/completions', { messages: Array.from({ length: 101 }, () => ({})) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: {
          message: 'Invalid request: messages: messages must contain no more than 100 elements',
          type: 'invalid_request_error',
          param: 'messages',
          code: null,
        },
      });
    });
  });
});
