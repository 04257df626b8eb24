import { jest } from '@jest/globals';
import { toHttpException } from '../../src/app/error-statuses.js';
import { ChatService } from '../../src/modules/tasks/chat.service.js';
import { ClassifyService } from '../../src/modules/tasks/classify.service.js';
import { occupySequence, startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user' as const, content });
const assistant = (content: string) => ({ role: 'assistant' as const, content });

describe('admission before tokenizing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '1', MAX_QUEUE: '0' });
    expect((await t.post('/v1/sentiment', { text: 'warm up the templates' })).statusCode).toBe(200);
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  const countTokenizing = () => jest.spyOn(t.models.model, 'tokenize');

  /** Holds the only sequence until the returned function is called: with MAX_QUEUE=0 the queue is full. */
  const occupy = () => occupySequence(t);

  // Near MAX_BODY_BYTES (1 MiB): 100 messages of 8000 characters, 64 items of 15,000.
  const long = (i: number) => `${i}: ${'I waited all week for it. '.repeat(300)}`;
  const bigChat = { messages: Array.from({ length: 100 }, (_, i) => (i % 2 ? assistant : user)(long(i))) };
  bigChat.messages[99] = user('and now?');
  const bigBatch = { items: Array.from({ length: 64 }, (_, i) => ({ text: `${i} ${'great food '.repeat(1363)}` })) };

  it.each([
    ['/v1/chat', bigChat],
    ['/v1/sentiment/batch', bigBatch],
    ['/v1/sentiment', { text: 'x'.repeat(20000) }],
  ])('a full queue answers %s with 503 and tokenizes nothing', async (url, body) => {
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(url === '/v1/sentiment' ? 20000 : 750_000);
    const free = occupy();
    try {
      const tokenize = countTokenizing();
      const res = await t.post(url, body);
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^[1-9][0-9]*$/); // whole seconds, from the work ahead
      expect(res.json().message).toMatch(/All sequences are busy and 0 requests are already waiting/);
      expect(tokenize).not.toHaveBeenCalled();
    } finally {
      await free();
    }
    expect((await t.post('/v1/sentiment', { text: 'free again' })).statusCode).toBe(200);
  });

  it('a draining model answers 503 and tokenizes nothing', async () => {
    const draining = await startTestApp();
    try {
      draining.models.beginDrain();
      const tokenize = jest.spyOn(draining.models.model, 'tokenize');
      const res = await draining.post('/v1/chat', bigChat);
      expect(res.statusCode).toBe(503);
      expect(res.json().message).toMatch(/not ready \(draining\)/);
      expect(tokenize).not.toHaveBeenCalled();
    } finally {
      await draining.close();
    }
  });

  /** What the client gets for a service call's failure. */
  const asHttp = <T>(call: Promise<T>) => call.catch((error: unknown) => Promise.reject(toHttpException(error)));
  const sentimentService = () => {
    const classifier = t.app.get(ClassifyService);
    return {
      classify: (text: string) => asHttp(classifier.classify('sentiment', { text })),
      classifyBatch: (texts: string[]) =>
        asHttp(classifier.classifyBatch('sentiment', { items: texts.map((text) => ({ text })) })),
    };
  };

  it('a text over the budget by its length alone is refused with 413 untokenized', async () => {
    // 128 bytes is the most one Qwen2 token stands for: 200,000 bytes are at least 1563 tokens,
    // and the fixed parts around it in sentiment's question-first prompt add two more.
    const text = 'a'.repeat(200_000);
    const tokenize = countTokenizing();
    const sentiment = sentimentService();
    await expect(sentiment.classify(text)).rejects.toMatchObject({
      status: 413,
      response: {
        message:
          'Input too long for the sentiment task: the prompt would be at least 1565 tokens and at most 1024 are allowed (system prompt and template included).',
        details: { minPromptTokens: 1565, maxInputTokens: 1024 },
      },
    });
    await expect(sentiment.classifyBatch(['fine', text])).rejects.toMatchObject({
      status: 413,
      response: { details: { item: 1 } },
    });
    const chat = t.app.get(ChatService);
    await expect(asHttp(chat.reply(chat.task(), [user('hi'), user(text)]))).rejects.toMatchObject({
      status: 413,
      response: { message: expect.stringMatching(/^Input too long for the chat task: the prompt would be at least/) },
    });
    expect(tokenize.mock.calls.filter(([input]) => input.length > 1000)).toEqual([]);
  });

  it('refuses nothing by length that would fit: a text of the longest tokens is tokenized and judged exactly', async () => {
    const sentiment = sentimentService();
    // 900 tokens of 128 spaces each: 115,200 bytes, within the budget with the template.
    const fits = await sentiment.classify('ok' + ' '.repeat(128 * 900) + 'ok');
    expect(fits.usage.promptTokens).toBeLessThanOrEqual(1024);
    await expect(sentiment.classify('ok' + ' '.repeat(128 * 1000) + 'ok')).rejects.toMatchObject({
      status: 413,
      response: { details: { promptTokens: expect.any(Number), maxInputTokens: 1024 } },
    });
  });

  it('tokenizes only the chat history that may fit, with the same reply as tokenizing all of it', async () => {
    const history = bigChat.messages;
    const tokenize = countTokenizing();
    const reply = await t.post('/v1/chat', { messages: history });
    expect(reply.statusCode).toBe(200);
    const tokenized = tokenize.mock.calls.filter(([input]) => input.length >= 7800).length;
    expect(tokenized).toBeGreaterThan(0);
    expect(tokenized).toBeLessThan(30); // of the 99 long messages
    // Sending only the newest messages gives the same prompt and reply.
    const newest = await t.post('/v1/chat', { messages: history.slice(-30) });
    expect(newest.json()).toEqual(reply.json());
  });
});
