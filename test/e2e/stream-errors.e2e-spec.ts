import { jest } from '@jest/globals';
import { ChatService } from '../../src/modules/tasks/chat.service.js';
import { serverPerSuite } from '../support/suite-server.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const API_KEY = 'stream-key';
const question = 'Tell me about your return policy, please.';
/** Both stream routes, each with a request body built around one user message. */
const streamRoutes = [
  { url: '/v1/chat', body: (content: string) => ({ messages: [{ role: 'user', content }], stream: true }) },
  {
    url: '/v1/chat/completions',
    body: (content: string) => ({ model: 'any', messages: [{ role: 'user', content }], stream: true }),
  },
];

const post = (url: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` }) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** An error body's message, in Duet's shape or OpenAI's (/v1/chat/completions). */
const messageOf = (body: any): string => body.error?.message ?? body.message;

/** Splits a complete text/event-stream body into its events (`message` when unnamed). */
function parseEvents(text: string): { event: string; data: string }[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
      data: /^data: (.*)$/m.exec(block)![1],
    }));
}

describe('stream routes refuse as plain HTTP before their first event', () => {
  const server = serverPerSuite({
    SEQUENCES: '1',
    MAX_QUEUE: '0',
    CHAT_MAX_TOKENS: '256',
    CHAT_MAX_CHARS: '2000',
    API_KEYS: API_KEY,
  });

  it.each(streamRoutes)('$url: 413 for input over the chat token budget', async ({ url, body }) => {
    const response = await post(server().url + url, body('价格实惠，味道一般，送餐很慢。'.repeat(240)));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(messageOf(await response.json())).toMatch(/at most 1024 are allowed/);
  });

  it.each(streamRoutes)('$url: 401 without an API key', async ({ url, body }) => {
    const response = await post(server().url + url, body(question), {});
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('/v1/chat/completions: 400 when the last message is not from the user', async () => {
    const response = await post(`${server().url}/v1/chat/completions`, {
      model: 'any',
      messages: [{ role: 'assistant', content: question }],
      stream: true,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: 'the last non-system message must be from the user',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  });

  it('both: 503 with Retry-After and a JSON body while the queue is full', async () => {
    // A stream of 256 tokens: once its first event is here, it holds the one sequence.
    const holder = await post(`${server().url}/v1/chat`, { ...streamRoutes[0].body(question), maxChars: 2000 });
    const holding = holder.body!.getReader();
    await holding.read();
    for (const { url, body } of streamRoutes) {
      const refused = await post(server().url + url, body(question));
      expect({ url, status: refused.status, retryAfter: refused.headers.get('retry-after') }).toEqual({
        url,
        status: 503,
        retryAfter: expect.stringMatching(/^[1-9][0-9]*$/), // whole seconds, from the work ahead
      });
      expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
      expect(messageOf(await refused.json())).toMatch(/retry shortly/);
    }
    await holding.cancel(); // disconnecting stops its generation
  });
});

describe('stream events, with the chat service stubbed', () => {
  const logLines: string[] = [];
  let t: TestApp;
  let reply: jest.SpiedFunction<ChatService['reply']>;
  beforeAll(async () => {
    t = await startTestApp({}, { logLines });
    reply = jest.spyOn(t.app.get(ChatService), 'reply');
  });
  afterAll(() => t.close());
  beforeEach(() => (logLines.length = 0));
  /** Each event's payload; an OpenAI chunk's is its delta (with finish_reason when set). */
  const payloads = (text: string) =>
    parseEvents(text).map(({ event, data }) => {
      if (data === '[DONE]') return data;
      const parsed = JSON.parse(data);
      const choice = parsed.choices?.[0];
      if (!choice) return event === 'message' ? parsed : { [event]: parsed };
      return choice.finish_reason ? { ...choice.delta, finish_reason: choice.finish_reason } : choice.delta;
    });

  it.each([
    {
      url: '/v1/chat',
      sent: [{ delta: { text: 'Hello' } }],
      failure: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
    },
    {
      url: '/v1/chat/completions',
      sent: [{ role: 'assistant', content: '' }, { content: 'Hello' }],
      failure: { error: { message: 'Internal server error', type: 'server_error', param: null, code: null } },
    },
  ])(
    '$url: a failure after the first event is an error event and a log line, without the request text',
    async ({ url, sent, failure }) => {
      reply.mockImplementation(async (_task, _messages, options) => {
        options?.onText?.('Hello');
        throw new Error('decoder state lost');
      });
      const response = await t.post(url, streamRoutes.find((r) => r.url === url)!.body(question));
      expect(response.statusCode).toBe(200);
      expect(payloads(response.payload)).toEqual([...sent, { error: failure }]);
      const failures = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'stream_failed');
      expect(failures).toEqual([
        expect.objectContaining({
          level: 'error',
          route: url,
          requestId: expect.any(String),
          statusCode: 500,
          error: { name: 'Error', message: 'decoder state lost' },
        }),
      ]);
      expect(logLines.join('\n')).not.toContain(question);
    },
  );

  it('/v1/chat/completions: an empty reply still opens with the role chunk, just before the finish chunk', async () => {
    reply.mockResolvedValue({
      text: '',
      finishReason: 'stop',
      completionTokens: 0,
      promptTokens: 40,
      queueMs: 0,
      task: 'chat',
    });
    const response = await t.post('/v1/chat/completions', streamRoutes[1].body(question));
    expect(payloads(response.payload)).toEqual([
      { role: 'assistant', content: '' },
      { finish_reason: 'stop' },
      '[DONE]',
    ]);
  });
});
