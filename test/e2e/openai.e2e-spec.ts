import OpenAI from 'openai';
import { serverPerSuite } from '../support/suite-server.js';

describe('OpenAI-compatible API, through the official openai client', () => {
  const server = serverPerSuite({ CHAT_MAX_TOKENS: '24', CHAT_MAX_CHARS: '500', CLIENT_SYSTEM_MESSAGES: 'ignore' });
  let client: OpenAI;
  const messages = [
    { role: 'system' as const, content: 'ignored: CLIENT_SYSTEM_MESSAGES=ignore' },
    { role: 'user' as const, content: 'Where is my order?' },
  ];
  beforeAll(() => {
    client = new OpenAI({ baseURL: `${server().url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  it('lists the loaded model and the chat tasks', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['duet-fixture-tiny-seed20261123', 'chat']);
  });

  it('creates a chat completion in OpenAI format, equal to the native chat endpoint', async () => {
    const completion = await client.chat.completions.create({ model: 'anything', messages, temperature: 0.7 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('duet-fixture-tiny-seed20261123');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0].message.role).toBe('assistant');
    expect(completion.choices[0].finish_reason).toBe('length');
    expect(completion.usage!.completion_tokens).toBe(24);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + 24);
    const native = await fetch(`${server().url}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: messages.slice(1), maxChars: 500 }),
    }).then((r) => r.json() as Promise<{ reply: string; usage: { promptTokens: number } }>);
    expect(completion.choices[0].message.content).toBe(native.reply);
    expect(completion.usage!.prompt_tokens).toBe(native.usage.promptTokens);
  });

  it('caps max_tokens at CHAT_MAX_TOKENS and honours lower values', async () => {
    expect(
      (await client.chat.completions.create({ model: 'x', messages, max_tokens: 5 })).usage!.completion_tokens,
    ).toBe(5);
    expect(
      (await client.chat.completions.create({ model: 'x', messages, max_tokens: 1000 })).usage!.completion_tokens,
    ).toBe(24);
  });

  it('streams chunks in OpenAI format, ending with finish_reason, usage and [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'x',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content.length).toBeGreaterThan(0);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('length');
    expect(chunks[chunks.length - 1].usage).toMatchObject({ completion_tokens: 24 });
    const plain = await client.chat.completions.create({ model: 'x', messages });
    expect(content.startsWith(plain.choices[0].message.content!)).toBe(true);
  });

  it('rejects what it cannot serve with a 400', async () => {
    await expect(client.chat.completions.create({ model: 'x', messages, n: 2 })).rejects.toMatchObject({ status: 400 });
    await expect(
      client.chat.completions.create({ model: 'x', messages: [{ role: 'assistant', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      client.chat.completions.create({ model: 'x', messages, logit_bias: { 1: 2 } } as never),
    ).rejects.toMatchObject({ status: 400 });
  });
});
