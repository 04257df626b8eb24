import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { serverPerSuite } from '../support/suite-server.js';

describe('OpenAI-compatible API, through the official openai client', () => {
  const server = serverPerSuite({ CHAT_MAX_TOKENS: '24', CHAT_MAX_CHARS: '500' });
  let client: OpenAI;
  const messages = [{ role: 'user' as const, content: 'Where is my order?' }];
  const content = async (request: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming>) => {
    const completion = await client.chat.completions.create({ model: 'x', messages, ...request });
    return { text: completion.choices[0].message.content, usage: completion.usage! };
  };
  const streamed = async (request: Partial<OpenAI.Chat.ChatCompletionCreateParamsStreaming>) => {
    const stream = await client.chat.completions.create({ model: 'x', messages, ...request, stream: true });
    let text = '';
    let finishReason: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finishReason ??= chunk.choices[0]?.finish_reason ?? null;
    }
    return { text, finishReason };
  };
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
      body: JSON.stringify({ messages, maxChars: 500 }),
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
      client.chat.completions.create({ model: 'x', messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] }),
    ).rejects.toMatchObject({ status: 400 });
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: {} } }];
    await expect(client.chat.completions.create({ model: 'x', messages, tools })).rejects.toMatchObject({
      status: 400,
    });
    expect((await content({ tools, tool_choice: 'none' })).text).toBe((await content({})).text);
  });

  it("answers errors in OpenAI's envelope, so the SDK's errors carry Duet's message", async () => {
    const invalid = await client.chat.completions.create({ model: 'x', messages, n: 2 }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    expect(invalid).toMatchObject({
      message: '400 Invalid request: n: n must be 1 (one choice per request)',
      type: 'invalid_request_error',
      param: 'n',
      code: null,
    });
    const tools = [{ type: 'function' as const, function: { name: 'lookup' } }];
    await expect(client.chat.completions.create({ model: 'x', messages, tools })).rejects.toMatchObject({
      message: '400 Invalid request: tools: tools are not supported: Duet does not call tools',
      param: 'tools',
    });
    await expect(
      client.chat.completions.create({ model: 'x', messages, logprobs: true, top_logprobs: 2 }),
    ).rejects.toMatchObject({
      status: 400,
      param: 'logprobs',
      message: expect.stringContaining('logprobs are not supported'),
    });
    expect((await content({ logprobs: false })).text).toBe((await content({})).text);
    await expect(client.models.retrieve('chat')).rejects.toMatchObject({
      status: 404,
      type: 'not_found_error',
      message: expect.stringMatching(/^404 Cannot GET \/v1\/models\/chat/),
    });
  });

  it('reads content given as text parts, and refuses other part types', async () => {
    const parts = await content({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Where is my' },
            { type: 'text', text: 'order?' },
          ],
        },
      ],
    });
    expect(parts).toEqual(await content({ messages: [{ role: 'user', content: 'Where is my\norder?' }] }));
    await expect(
      content({
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }],
      }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('takes developer messages as system messages, and ignores names and fields it does not serve', async () => {
    const plain = await content({});
    const system = await content({ messages: [{ role: 'system', content: 'Be brief.' }, ...messages] });
    expect(system.usage.prompt_tokens).toBeGreaterThan(plain.usage.prompt_tokens);
    expect(await content({ messages: [{ role: 'developer', content: 'Be brief.' }, ...messages] })).toEqual(system);
    const extras = {
      messages: [{ role: 'user' as const, content: messages[0].content, name: 'ann' }],
      metadata: { ticket: '42' },
      store: false,
      parallel_tool_calls: false,
      logit_bias: { 1: 2 },
      user: 'ann',
      seed: 7,
      temperature: 1.5,
      top_p: 0.5,
      presence_penalty: 1,
      frequency_penalty: 1,
      some_future_field: { nested: true },
    };
    expect(await content(extras)).toEqual(plain);
  });

  it('ends generation before a stop string, streamed or not, and never streams its start', async () => {
    const full = await streamed({});
    expect(full.text.length).toBeGreaterThan(12);
    const stop = full.text.slice(8, 11);
    const before = full.text.slice(0, full.text.indexOf(stop));
    const stopped = await streamed({ stop: [stop, '\u0000never'] });
    expect(stopped).toEqual({ text: before, finishReason: 'stop' });
    const plain = await client.chat.completions.create({ model: 'x', messages, stop });
    expect(plain.choices[0].message.content).toBe(before.trim());
    expect(plain.choices[0].finish_reason).toBe('stop');
    // A stop string that only begins in the text holds nothing back at the end.
    expect(await streamed({ stop: `${full.text.slice(-2)}\u0000` })).toEqual(full);
  });

  describe('structured output', () => {
    /** Its grammar forces an end whatever the weights: a closed set of values, a bounded string and array. */
    const ticketSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Ticket',
      type: 'object',
      properties: {
        action: { type: 'string', enum: ['refund', 'exchange', 'track'], description: 'what the customer wants' },
        product: { type: 'string', maxLength: 6 },
        urgent: { type: 'boolean' },
        tags: { type: 'array', items: { enum: ['late', 'damaged'] }, maxItems: 2 },
      },
      required: ['action', 'product', 'urgent', 'tags'],
      additionalProperties: false,
    };
    const jsonSchema = {
      type: 'json_schema' as const,
      json_schema: { name: 'ticket', strict: true, schema: ticketSchema },
    };

    it('json_schema (strict): a finished answer is valid against the schema', async () => {
      const completion = await client.chat.completions.create({ model: 'x', messages, response_format: jsonSchema });
      expect(completion.choices[0].finish_reason).toBe('stop');
      const answer = JSON.parse(completion.choices[0].message.content!);
      expect(Object.keys(answer).sort()).toEqual(['action', 'product', 'tags', 'urgent']);
      expect(['refund', 'exchange', 'track']).toContain(answer.action);
      expect(answer.product.length).toBeLessThanOrEqual(6);
      expect(typeof answer.urgent).toBe('boolean');
      expect(answer.tags.length).toBeLessThanOrEqual(2);
      // Neither the chat task's character cap (CHAT_MAX_CHARS) nor its token cap applies to it.
      expect(completion.usage!.completion_tokens).toBeGreaterThan(24);
    });

    it('the parse helper returns the object of an enum schema, from an answer that ends with it', async () => {
      const sentiment = z.object({ sentiment: z.enum(['positive', 'negative']) });
      const completion = await client.chat.completions.parse({
        model: 'x',
        messages,
        response_format: zodResponseFormat(sentiment, 'sentiment'),
      });
      const { finish_reason: finishReason, message } = completion.choices[0];
      expect(finishReason).toBe('stop');
      expect(sentiment.parse(message.parsed)).toEqual(message.parsed);
      expect(message.content).toBe(message.content!.trimEnd());
    });

    it('json_schema streamed: the chunks join to the same answer', async () => {
      expect(await streamed({ response_format: jsonSchema })).toEqual({
        text: (await content({ response_format: jsonSchema })).text,
        finishReason: 'stop',
      });
    });

    it('json_object: a finished answer parses; one cut by the token cap is a length', async () => {
      const completion = await client.chat.completions.create({
        model: 'x',
        messages,
        response_format: { type: 'json_object' },
        max_tokens: 16,
      });
      const { finish_reason: finishReason, message } = completion.choices[0];
      if (finishReason === 'stop') expect(typeof JSON.parse(message.content!)).toBe('object');
      else expect(() => JSON.parse(message.content!)).toThrow();
      expect(message.content!.startsWith('{')).toBe(true);
      const cut = await client.chat.completions.create({
        model: 'x',
        messages,
        response_format: jsonSchema,
        max_tokens: 3,
      });
      expect(cut.choices[0].finish_reason).toBe('length');
      expect(cut.usage!.completion_tokens).toBe(3);
    });

    it('refuses a schema keyword the grammar cannot enforce, naming it', async () => {
      const withPattern = {
        ...jsonSchema,
        json_schema: {
          ...jsonSchema.json_schema,
          schema: { ...ticketSchema, properties: { code: { type: 'string', pattern: '^[0-9]+$' } } },
        },
      };
      await expect(
        client.chat.completions.create({ model: 'x', messages, response_format: withPattern }),
      ).rejects.toMatchObject({
        status: 400,
        message: "400 Unsupported JSON schema: the JSON schema's #/properties/code/pattern is not supported",
      });
      await expect(
        client.chat.completions.create({ model: 'x', messages, response_format: jsonSchema, stop: '}' }),
      ).rejects.toMatchObject({ status: 400, param: 'stop' });
    });
  });
});
