import { jest } from '@jest/globals';
import { MAX_LISTED_PROBLEMS } from '../../http/validation.pipe.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { ChatDto } from './dto/chat.dto.js';
import { ControllerApp, expectError, startControllerApp } from '../../../test/support/controller-app.js';

const user = (content: unknown) => ({ role: 'user', content });

describe('POST /v1/chat validation', () => {
  const answer = jest.fn(async () => ({ reply: 'hello' }));
  let app: ControllerApp;
  beforeAll(async () => {
    app = await startControllerApp(ChatController, [{ provide: ChatService, useValue: { answer } }]);
  });
  afterAll(() => app.close());
  beforeEach(() => answer.mockClear());

  it.each([
    [
      'a bad role',
      { messages: [{ role: 'system', content: 'hi' }, user('hi')] },
      'messages.0.role: role must be one of: user, assistant',
    ],
    [
      'no messages',
      { messages: [] },
      'messages: the last message must be from the user, messages must contain at least 1 elements',
    ],
    [
      'a last message from the assistant',
      { messages: [user('hi'), { role: 'assistant', content: 'yo' }] },
      'messages: the last message must be from the user',
    ],
    ['empty content', { messages: [user('')] }, 'messages.0.content: content must not be empty or only whitespace'],
    [
      'content of only whitespace',
      { messages: [user('  ')] },
      'messages.0.content: content must not be empty or only whitespace',
    ],
    ['maxChars of zero', { messages: [user('hi')], maxChars: 0 }, 'maxChars: maxChars must not be less than 1'],
    [
      'a field named like an Object.prototype member',
      { messages: [{ ...user('hi'), valueOf: 1 }] },
      'messages.0.valueOf: property valueOf should not exist',
    ],
    // Oversize values are the only problem named: refused before their elements are validated.
    [
      'over 100 messages',
      { messages: Array.from({ length: 101 }, () => ({})) },
      'messages: messages must contain no more than 100 elements',
    ],
    [
      'content over 8000 characters',
      { messages: [user('a'.repeat(8001)), {}] },
      'messages.0.content: content must be shorter than or equal to 8000 characters',
    ],
  ])('400 for %s, and the service is not called', async (_case, body, problem) => {
    expectError(await app.post('/v1/chat', body), 400, `Invalid request: ${problem}`);
    expect(answer).not.toHaveBeenCalled();
  });

  it('a parent and a child problem: names the parent problem, not "is required"', async () => {
    const body = expectError(await app.post('/v1/chat', { messages: [{ role: 'assistant', content: '' }] }), 400, /./);
    expect(body.details).toContainEqual({ field: 'messages', problems: ['the last message must be from the user'] });
  });

  it(`lists at most ${MAX_LISTED_PROBLEMS} problems and counts the rest`, async () => {
    // 30 empty messages: each lacks role and content, and the last is not from the user.
    const body = expectError(
      await app.post('/v1/chat', { messages: Array.from({ length: 30 }, () => ({})) }),
      400,
      /; and 41 more problems$/,
    );
    expect(body.details.flatMap((d: { problems: string[] }) => d.problems)).toHaveLength(MAX_LISTED_PROBLEMS);
    expect(body.message.split(' is required').length - 1).toBe(MAX_LISTED_PROBLEMS - 1);
  });

  it.each([
    ['/v1/chat', 'chat'],
    ['/v1/chat/support', 'support'],
  ])('a good body on %s reaches the service as the parsed DTO, for task %s', async (url, task) => {
    const body = { messages: [user('hi'), { role: 'assistant', content: 'yo' }, user('and?')], maxChars: 40 };
    const res = await app.post(url, body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ reply: 'hello' });
    const [calledTask, dto] = answer.mock.calls[0] as unknown as [string, ChatDto];
    expect(calledTask).toBe(task);
    expect(dto).toBeInstanceOf(ChatDto);
    expect(dto).toEqual(body);
  });
});
