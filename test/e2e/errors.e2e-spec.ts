import { BadRequestException } from '@nestjs/common';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage } from 'class-validator';
import { errorBody, MAX_ERROR_BODY_BYTES } from '../../src/common/error-body.js';
import { MAX_JSON_DEPTH, MAX_JSON_ITEMS } from '../../src/common/json-body.js';
import { MAX_LISTED_PROBLEMS } from '../../src/common/validation.pipe.js';
import { ChatCompletionDto } from '../../src/modules/openai/dto/chat-completion.dto.js';
import { ChatDto } from '../../src/modules/tasks/dto/chat.dto.js';
import { ClassifyBatchDto, ClassifyDto, TriageBatchDto, TriageDto } from '../../src/modules/tasks/dto/classify.dto.js';
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

  it.each([
    ['empty text', '/v1/sentiment', { text: '' }, /text must not be empty/],
    ['text of only whitespace', '/v1/sentiment', { text: ' \n\t' }, /text must not be empty or only whitespace/],
    ['missing text', '/v1/sentiment', {}, /text is required/],
    ['text of the wrong type', '/v1/sentiment', { text: 42 }, /text must be a string/],
    ['an unknown field', '/v1/sentiment', { text: 'hi', temperature: 1 }, /property temperature should not exist/],
    [
      'an unknown label',
      '/v1/sentiment',
      { text: 'hi', labels: ['positive', 'angry'] },
      /^labels: "angry" not a label of task "sentiment"; its labels: positive, negative, neutral$/,
    ],
    ['a single label', '/v1/sentiment', { text: 'hi', labels: ['positive'] }, /at least 2 labels/],
    ['repeated labels', '/v1/sentiment', { text: 'hi', labels: ['positive', 'positive'] }, /must not repeat/],
    ['labels that are not an array', '/v1/sentiment', { text: 'hi', labels: 'positive' }, /labels/],
    ['labels of null (a 500 before)', '/v1/sentiment', { text: 'hi', labels: null }, /labels must be an array/],
    ['an empty batch', '/v1/sentiment/batch', { items: [] }, /items must contain at least 1 elements/],
    [
      'a batch over 64 items',
      '/v1/sentiment/batch',
      { items: Array.from({ length: 65 }, () => ({ text: 'a' })) },
      /items must contain no more than 64 elements/,
    ],
    ['a batch item without text', '/v1/sentiment/batch', { items: [{ text: 'ok' }, { id: 'x' }] }, /items\.1\.text/],
    [
      'a bad role',
      '/v1/chat',
      { messages: [{ role: 'system', content: 'hi' }] },
      /role must be one of: user, assistant/,
    ],
    ['no messages', '/v1/chat', { messages: [] }, /messages must contain at least 1 elements/],
    [
      'a last message from the assistant',
      '/v1/chat',
      { messages: [user('hi'), { role: 'assistant', content: 'yo' }] },
      /last message must be from the user/,
    ],
    ['empty content', '/v1/chat', { messages: [user('')] }, /content must not be empty/],
    [
      'content of only whitespace',
      '/v1/chat',
      { messages: [user('  ')] },
      /content must not be empty or only whitespace/,
    ],
    ['maxChars of zero', '/v1/chat', { messages: [user('hi')], maxChars: 0 }, /maxChars must not be less than 1/],
    [
      "maxChars above the chat task's",
      '/v1/chat',
      { messages: [user('hi')], maxChars: 61 },
      /maxChars must be at most 60 \(the chat task's maxChars\)/,
    ],
  ])('400 for %s', async (_case, url, payload, message) => {
    expectError(await t.post(url, payload), 400, message);
  });

  it('400 lists each field problem in details', async () => {
    const body = expectError(await t.post('/v1/sentiment', { text: '', labels: ['x'] }), 400, /text/);
    expect(body.details.map((d: { field: string }) => d.field).sort()).toEqual(['labels', 'text']);
  });

  it.each([
    ['a missing field', '/v1/sentiment', { labels: ['positive', 'negative'] }, 'text', 'text is required'],
    ['text of the wrong type', '/v1/sentiment', { text: 42 }, 'text', 'text must be a string'],
    [
      'labels that are a string',
      '/v1/sentiment',
      { text: 'hi', labels: 'positive' },
      'labels',
      'labels must be an array',
    ],
    ['batch items that are a string', '/v1/sentiment/batch', { items: 'x' }, 'items', 'items must be an array'],
  ])(
    '400 for %s names only that problem, not every rule the field has',
    async (_case, url, payload, field, problem) => {
      const body = expectError(await t.post(url, payload), 400, new RegExp(`${field}: ${problem}$`));
      expect(body.details).toEqual([{ field, problems: [problem] }]);
    },
  );

  it('400, not 500, for malformed JSON', async () => {
    expectError(await t.post('/v1/sentiment', '{"text": "unterminated'), 400, /JSON/);
  });

  it.each([
    ['a string', '"just a string"'],
    ['an array', '[{"text":"hi"}]'],
    ['null', 'null'],
    ['a number', '3'],
  ])('400 for a JSON body that is %s, not an object', async (_case, payload) => {
    const body = expectError(
      await t.post('/v1/sentiment', payload),
      400,
      /^Invalid request: body: the body must be a JSON object$/,
    );
    expect(body.details).toEqual([{ field: 'body', problems: ['the body must be a JSON object'] }]);
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

  it('a 400 with a parent and child problem names the parent problem, not "is required"', async () => {
    const body = expectError(await t.post('/v1/chat', { messages: [{ role: 'assistant', content: '' }] }), 400, /./);
    expect(body.details).toContainEqual({ field: 'messages', problems: ['the last message must be from the user'] });
  });

  it.each([
    ['/v1/sentiment', { text: 'hi', toString: 1 }, 'toString'],
    ['/v1/sentiment', { text: 'hi', constructor: null }, 'constructor'],
    ['/v1/chat', { messages: [{ ...user('hi'), valueOf: 1 }] }, 'messages.0.valueOf'],
    ['/v1/sentiment/batch', { items: [{ text: 'hi', hasOwnProperty: 'x' }] }, 'items.0.hasOwnProperty'],
  ])('400 on %s for a field named like an Object.prototype member (a 200 before)', async (url, payload, field) => {
    const body = expectError(await t.post(url, payload), 400, /should not exist/);
    expect(body.details).toEqual([{ field, problems: [`property ${field.split('.').pop()} should not exist`] }]);
  });

  it(`a 400 lists at most ${MAX_LISTED_PROBLEMS} problems and counts the rest`, async () => {
    // 30 empty messages: each lacks role and content, and the last is not from the user.
    const body = expectError(
      await t.post('/v1/chat', { messages: Array.from({ length: 30 }, () => ({})) }),
      400,
      /; and 41 more problems$/,
    );
    const listed = body.details.flatMap((d: { problems: string[] }) => d.problems);
    expect(listed).toHaveLength(MAX_LISTED_PROBLEMS);
    expect(body.message.split(' is required').length - 1).toBe(MAX_LISTED_PROBLEMS - 1);
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

    it.each([
      [
        'messages',
        '/v1/chat',
        { messages: Array.from({ length: 101 }, () => ({})) },
        'messages must contain no more than 100 elements',
      ],
      [
        'items',
        '/v1/sentiment/batch',
        { items: Array.from({ length: 65 }, () => ({})) },
        'items must contain no more than 64 elements',
      ],
      [
        'labels',
        '/v1/sentiment',
        { text: 'hi', labels: Array.from({ length: 21 }, () => 'positive') },
        'labels must contain no more than 20 elements',
      ],
      [
        'text',
        '/v1/sentiment',
        { text: 'a'.repeat(20_001), extra: 1 },
        'text must be shorter than or equal to 20000 characters',
      ],
      [
        'messages.0.content',
        '/v1/chat',
        { messages: [user('a'.repeat(8001)), {}] },
        'content must be shorter than or equal to 8000 characters',
      ],
      [
        'items.1.id',
        '/v1/sentiment/batch',
        { items: [{}, { id: 'i'.repeat(201) }] },
        'id must be shorter than or equal to 200 characters',
      ],
    ])(
      'an oversize %s on %s is the only problem named, before the elements are validated',
      async (field, url, payload, problem) => {
        const body = expectError(await big.post(url, payload), 400, /./);
        expect(body.details).toEqual([{ field, problems: [problem] }]);
      },
    );

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

    it('a long field name is cut in the 400', async () => {
      const body = expectError(await big.post('/v1/sentiment', { text: 'hi', ['k'.repeat(100_000)]: 1 }), 400, /./);
      expect(body.details[0].field).toBe(`${'k'.repeat(120)}…`);
      expect(JSON.stringify(body).length).toBeLessThan(1024);
    });
  });

  it('every array a request DTO takes has a maximum size, so the pipe refuses oversize ones unread', () => {
    const storage = getMetadataStorage();
    const unbounded: string[] = [];
    const visit = (dto: Parameters<typeof storage.getTargetValidationMetadatas>[0]) => {
      const byProperty = storage.groupByPropertyName(storage.getTargetValidationMetadatas(dto, '', true, false));
      for (const [property, metadatas] of Object.entries(byProperty)) {
        const names = metadatas.map((m) => m.name);
        if (names.includes('isArray') && !names.includes('arrayMaxSize')) unbounded.push(`${dto.name}.${property}`);
        const nested = defaultMetadataStorage.findTypeMetadata(dto, property)?.typeFunction();
        if (nested) visit(nested);
      }
    };
    [ClassifyDto, ClassifyBatchDto, TriageDto, TriageBatchDto, ChatDto, ChatCompletionDto].forEach(visit);
    expect(unbounded).toEqual([]);
  });
});
