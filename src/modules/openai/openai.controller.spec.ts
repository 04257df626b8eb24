import { jest } from '@jest/globals';
import { ChatCompletionDto } from './dto/chat-completion.dto.js';
import { OpenAiController } from './openai.controller.js';
import { OpenAiService } from './openai.service.js';
import { ControllerApp, expectError, startControllerApp } from '../../../test/support/controller-app.js';

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
    ['no messages', {}, 'Invalid request: messages: messages is required'],
    ['an empty list', { messages: [] }, 'Invalid request: messages: messages must contain at least 1 elements'],
    [
      'a bad role',
      { messages: [{ role: 'tool', content: 'hi' }] },
      'Invalid request: messages.0.role: role must be one of: system, user, assistant',
    ],
    [
      'empty content',
      { messages: [user('')] },
      'Invalid request: messages.0.content: content must not be empty or only whitespace',
    ],
    [
      'content of only whitespace (passed before)',
      { messages: [user(' \n\t')] },
      'Invalid request: messages.0.content: content must not be empty or only whitespace',
    ],
    [
      'content parts',
      { messages: [user([{ type: 'text', text: 'hi' }])] },
      'Invalid request: messages.0.content: content must be a string (content parts are not supported)',
    ],
    ['n of 2', { messages: [user('hi')], n: 2 }, 'Invalid request: n: n must be 1'],
    [
      'max_tokens of zero',
      { messages: [user('hi')], max_tokens: 0 },
      'Invalid request: max_tokens: max_tokens must not be less than 1',
    ],
    [
      'stream of a string',
      { messages: [user('hi')], stream: 'yes' },
      'Invalid request: stream: stream must be a boolean value',
    ],
    [
      'an unknown field',
      { messages: [user('hi')], logprobs: true },
      'Invalid request: logprobs: property logprobs should not exist',
    ],
    [
      'over 100 messages',
      { messages: Array.from({ length: 101 }, () => ({})) },
      'Invalid request: messages: messages must contain no more than 100 elements',
    ],
  ])('400 for %s, and the service is not called', async (_case, body, message) => {
    expectError(await app.post('/v1/chat/completions', body), 400, message);
    expect(complete).not.toHaveBeenCalled();
  });

  it('passes a good body to the service as the parsed DTO, sampling fields accepted', async () => {
    const body = { model: 'any', messages: [{ role: 'system', content: 'be brief' }, user('hi')], temperature: 0.2 };
    const res = await app.post('/v1/chat/completions', body);
    expect(res.statusCode).toBe(200);
    expect(complete).toHaveBeenCalledTimes(1);
    const [dto] = complete.mock.calls[0] as unknown as [ChatCompletionDto];
    expect(dto).toBeInstanceOf(ChatCompletionDto);
    expect(dto).toEqual(expect.objectContaining({ model: 'any', messages: body.messages, temperature: 0.2 }));
  });
});
