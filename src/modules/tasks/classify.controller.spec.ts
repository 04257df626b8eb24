import { jest } from '@jest/globals';
import { ClassifyController } from './classify.controller.js';
import { ClassifyService } from './classify.service.js';
import { ClassifyBatchDto, ClassifyDto, TriageDto } from './dto/classify.dto.js';
import { TasksService } from './tasks.service.js';
import {
  DeadlineBeforeStartError,
  DeadlineUnreachableError,
  ModelNotReadyError,
  QueueFullError,
} from '../model/model.errors.js';
import { ControllerApp, expectError, startControllerApp } from '../../../test/support/controller-app.js';

describe('classification routes: validation', () => {
  const classifier = {
    classify: jest.fn(async () => ({})),
    classifyBatch: jest.fn(async () => ({})),
    triage: jest.fn(async () => ({})),
    triageBatch: jest.fn(async () => ({})),
  };
  let app: ControllerApp;
  beforeAll(async () => {
    app = await startControllerApp(ClassifyController, [
      { provide: ClassifyService, useValue: classifier },
      { provide: TasksService, useValue: {} },
    ]);
  });
  afterAll(() => app.close());
  beforeEach(() => Object.values(classifier).forEach((fake) => fake.mockClear()));
  const noServiceCalled = () => Object.values(classifier).forEach((fake) => expect(fake).not.toHaveBeenCalled());

  it.each([
    ['empty text', '/v1/sentiment', { text: '' }, 'text: text must not be empty or only whitespace'],
    ['text of only whitespace', '/v1/sentiment', { text: ' \n\t' }, 'text: text must not be empty or only whitespace'],
    ['missing text', '/v1/sentiment', {}, 'text: text is required'],
    ['text of the wrong type', '/v1/sentiment', { text: 42 }, 'text: text must be a string'],
    [
      'an unknown field',
      '/v1/sentiment',
      { text: 'hi', temperature: 1 },
      'temperature: property temperature should not exist',
    ],
    [
      'a single label',
      '/v1/sentiment',
      { text: 'hi', labels: ['positive'] },
      'labels: labels must list at least 2 labels',
    ],
    [
      'repeated labels',
      '/v1/sentiment',
      { text: 'hi', labels: ['positive', 'positive'] },
      'labels: labels must not repeat',
    ],
    [
      'labels that are not an array',
      '/v1/sentiment',
      { text: 'hi', labels: 'positive' },
      'labels: labels must be an array',
    ],
    [
      'labels of null (a 500 before)',
      '/v1/sentiment',
      { text: 'hi', labels: null },
      'labels: each value in labels must be a string, labels must be an array',
    ],
    [
      'minConfidence over 1',
      '/v1/classify/sentiment',
      { text: 'hi', minConfidence: 2 },
      'minConfidence: minConfidence must not be greater than 1',
    ],
    ['an empty batch', '/v1/sentiment/batch', { items: [] }, 'items: items must contain at least 1 elements'],
    ['batch items that are a string', '/v1/sentiment/batch', { items: 'x' }, 'items: items must be an array'],
    [
      'a batch item without text',
      '/v1/sentiment/batch',
      { items: [{ text: 'ok' }, { id: 'x' }] },
      'items.1.text: text is required',
    ],
    [
      'a batch over 64 items',
      '/v1/sentiment/batch',
      { items: Array.from({ length: 65 }, () => ({ text: 'a' })) },
      'items: items must contain no more than 64 elements',
    ],
    ['repeated triage tasks', '/v1/triage', { text: 'hi', tasks: ['a', 'a'] }, 'tasks: tasks must not repeat'],
    [
      'a triage batch item of only whitespace',
      '/v1/triage/batch',
      { items: [{ text: ' ' }] },
      'items.0.text: text must not be empty or only whitespace',
    ],
    // Oversize values are the only problem named: refused before their elements are validated.
    [
      'over 20 labels',
      '/v1/sentiment',
      { text: 'hi', labels: Array.from({ length: 21 }, () => 'positive') },
      'labels: labels must contain no more than 20 elements',
    ],
    [
      'text over 20,000 characters',
      '/v1/sentiment',
      { text: 'a'.repeat(20_001), extra: 1 },
      'text: text must be shorter than or equal to 20000 characters',
    ],
    [
      'an id over 200 characters',
      '/v1/sentiment/batch',
      { items: [{}, { id: 'i'.repeat(201) }] },
      'items.1.id: id must be shorter than or equal to 200 characters',
    ],
  ])('400 for %s, and no service call', async (_case, url, body, problem) => {
    const error = expectError(await app.post(url, body), 400, `Invalid request: ${problem}`);
    const [, field, problems] = /^(.*?): (.*)$/.exec(problem)!;
    expect(error.details).toEqual([{ field, problems: problems.split(', ') }]);
    noServiceCalled();
  });

  it('lists each field with its problems in details', async () => {
    const body = expectError(await app.post('/v1/sentiment', { text: '', labels: ['x'] }), 400, /^Invalid request: /);
    expect(body.details).toEqual(
      expect.arrayContaining([
        { field: 'labels', problems: ['labels must list at least 2 labels'] },
        { field: 'text', problems: ['text must not be empty or only whitespace'] },
      ]),
    );
    expect(body.details).toHaveLength(2);
  });

  it.each([
    ['a string', 'just a string'],
    ['an array', [{ text: 'hi' }]],
    ['null', null],
    ['a number', 3],
  ])('400 for a JSON body that is %s, not an object', async (_case, body) => {
    const error = expectError(
      await app.post('/v1/sentiment', JSON.stringify(body)),
      400,
      'Invalid request: body: the body must be a JSON object',
    );
    expect(error.details).toEqual([{ field: 'body', problems: ['the body must be a JSON object'] }]);
  });

  it.each([
    ['/v1/sentiment', { text: 'hi', toString: 1 }, 'toString'],
    ['/v1/sentiment', { text: 'hi', constructor: null }, 'constructor'],
    ['/v1/sentiment/batch', { items: [{ text: 'hi', hasOwnProperty: 'x' }] }, 'items.0.hasOwnProperty'],
  ])('400 on %s for a field named like an Object.prototype member (a 200 before)', async (url, body, field) => {
    const error = expectError(await app.post(url, body), 400, /should not exist$/);
    expect(error.details).toEqual([{ field, problems: [`property ${field.split('.').pop()} should not exist`] }]);
    noServiceCalled();
  });

  it('cuts a long field name in the 400', async () => {
    const res = await app.post('/v1/sentiment', { text: 'hi', ['k'.repeat(100_000)]: 1 });
    expect(expectError(res, 400, /^Invalid request: k{120}…: /).details[0].field).toBe(`${'k'.repeat(120)}…`);
    expect(res.rawPayload.length).toBeLessThan(1024);
  });

  it.each([
    ['/v1/sentiment', { text: 'fine', minConfidence: 0.5 }, 'classify', ['sentiment'], ClassifyDto],
    ['/v1/classify/topic', { text: 'fine', labels: ['a', 'b'] }, 'classify', ['topic'], ClassifyDto],
    ['/v1/classify/topic/batch', { items: [{ id: '1', text: 'fine' }] }, 'classifyBatch', ['topic'], ClassifyBatchDto],
    ['/v1/triage', { text: 'fine', tasks: ['sentiment'] }, 'triage', [], TriageDto],
  ] as const)('a good body on %s reaches the service as its parsed DTO', async (url, body, method, args, dto) => {
    expect((await app.post(url, body)).statusCode).toBe(200);
    expect(classifier[method]).toHaveBeenCalledTimes(1);
    const call = classifier[method].mock.calls[0] as unknown[];
    expect(call.slice(0, args.length)).toEqual(args);
    expect(call[args.length]).toBeInstanceOf(dto);
    expect(call[args.length]).toEqual(body);
  });

  it.each([
    [
      new DeadlineUnreachableError(12_400, 3000, 'batch', 10),
      '10',
      { reason: 'deadline_unreachable', expectedMs: 12_400, deadlineInMs: 3000 },
    ],
    [new DeadlineBeforeStartError(1500, 'batch', 4), '4', { reason: 'deadline_before_start', deadlineMs: 1500 }],
    [new QueueFullError(64, 'interactive', 2), '2', { reason: 'queue_full', maxQueue: 64 }],
    [new ModelNotReadyError('warming'), '1', { state: 'warming' }],
  ])('answers %p with 503, its Retry-After and its details', async (refusal, retryAfter, details) => {
    classifier.classify.mockRejectedValueOnce(refusal);
    const res = await app.post('/v1/sentiment', { text: 'fine' });
    expect(expectError(res, 503, /retry shortly\.$/).details).toEqual(details);
    expect(res.headers['retry-after']).toBe(retryAfter);
  });
});
