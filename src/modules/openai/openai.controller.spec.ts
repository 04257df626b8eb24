import { jest } from '@jest/globals';
import { ChatCompletionDto } from './dto/chat-completion.dto.js';
import { OpenAiController } from './openai.controller.js';
import { OpenAiService } from './openai.service.js';
import { ControllerApp, startControllerApp } from '../../../test/support/controller-app.js';

const user = (content: unknown) => ({ role: 'user', content });

describe('POST /v1/chat/completions validation', () => {
  const complete = jest.fn(async () => ({}));
  let app: ControllerApp;
  beforeAll(async () => {
    const openai = { complete, response: (result: unknown) => result };
    app = await startControllerApp(OpenAiController, [{ provide: OpenAiService, useValue: openai }]);
  });
  afterAll(() => app.close());
  beforeEach(() => complete.mockClear());

  it.each([
    ['no messages', {}, 'messages'],
    ['an empty list', { messages: [] }, 'messages'],
    ['a bad role', { messages: [{ role: 'robot', content: 'hi' }] }, 'messages.0.role'],
    ['empty content', { messages: [user('')] }, 'messages.0.content'],
    ['content of only whitespace', { messages: [user(' \n\t')] }, 'messages.0.content'],
    ['an image part', { messages: [user([{ type: 'image_url', image_url: { url: 'x' } }])] }, 'messages.0.content'],
    ['n of 2', { messages: [user('hi')], n: 2 }, 'n'],
    ['max_tokens of zero', { messages: [user('hi')], max_tokens: 0 }, 'max_tokens'],
    ['stream of a string', { messages: [user('hi')], stream: 'yes' }, 'stream'],
    ['over 100 messages', { messages: Array.from({ length: 101 }, () => ({})) }, 'messages'],
  ])("400 in OpenAI's envelope for %s, naming the field, and the service is not called", async (_case, body, param) => {
    const res = await app.post('/v1/chat/completions', body);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error).toEqual({
      message: expect.stringMatching(/^Invalid request: /),
      type: 'invalid_request_error',
      param,
      code: null,
    });
    expect(error.message).toContain(param);
    expect(complete).not.toHaveBeenCalled();
  });

  it('passes a good body to the service as the parsed DTO: content parts, sampling and unknown fields accepted', async () => {
    const body = {
      model: 'any',
      messages: [{ role: 'developer', content: 'be brief' }, user([{ type: 'text', text: 'hi' }])],
      temperature: 0.2,
      metadata: { trace: 'x' },
      store: false,
    };
    const res = await app.post('/v1/chat/completions', body);
    expect(res.statusCode).toBe(200);
    expect(complete).toHaveBeenCalledTimes(1);
    const [dto] = complete.mock.calls[0] as unknown as [ChatCompletionDto];
    expect(dto).toBeInstanceOf(ChatCompletionDto);
    expect(dto).toEqual(expect.objectContaining({ model: 'any', messages: body.messages }));
    // Ignored on this route (decoding is greedy; bookkeeping fields), not passed on.
    for (const field of ['temperature', 'metadata', 'store']) expect(dto).not.toHaveProperty(field);
  });
});
