import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateObject, generateText, streamText } from 'ai';
import { z } from 'zod';
import { serverPerSuite } from '../support/suite-server.js';

/**
 * The Vercel AI SDK and LangChain, used as their docs show, against the app on the tiny model:
 * what they send must be accepted and what Duet answers must read as OpenAI's. (The official
 * openai SDK has its own file, openai.e2e-spec.ts.)
 */
describe('OpenAI-compatible API, through the Vercel AI SDK and LangChain', () => {
  const server = serverPerSuite({ CHAT_MAX_TOKENS: '12', CHAT_MAX_CHARS: '500' });
  const baseURL = () => `${server().url}/v1`;
  const system = 'You answer questions about orders.';
  const question = 'Where is my order?';
  /** Their grammars force an end whatever the weights: closed sets and a boolean. */
  const ticket = z.object({ action: z.enum(['refund', 'exchange', 'track']), urgent: z.boolean() });
  const sentiment = z.object({ sentiment: z.enum(['positive', 'negative']) });
  const schemas = [
    ['a closed set and a boolean', ticket],
    ['an enum', sentiment],
  ] as const;

  describe('Vercel AI SDK (@ai-sdk/openai-compatible)', () => {
    const provider = () =>
      createOpenAICompatible({ name: 'duet', baseURL: baseURL(), apiKey: 'unused', supportsStructuredOutputs: true });

    it('generateText with a system prompt', async () => {
      const result = await generateText({ model: provider()('chat'), system, prompt: question, maxRetries: 0 });
      expect(result.text.length).toBeGreaterThan(0);
      expect(result.finishReason).toBe('length');
      expect(result.usage.outputTokens).toBe(12);
    });

    it('streamText', async () => {
      const result = streamText({ model: provider()('chat'), system, prompt: question, maxRetries: 0 });
      let text = '';
      for await (const delta of result.textStream) text += delta;
      expect(text.length).toBeGreaterThan(0);
      expect(await result.finishReason).toBe('length');
    });

    it.each(schemas)(
      'generateObject with a zod schema of %s, from an answer that ends with its JSON',
      async (_, schema) => {
        const result = await generateObject({ model: provider()('chat'), schema, prompt: question, maxRetries: 0 });
        expect(result.finishReason).toBe('stop');
        expect(schema.parse(result.object)).toEqual(result.object);
        const { content } = (result.response.body as { choices: { message: { content: string } }[] }).choices[0]
          .message;
        expect(content).toBe(content.trimEnd());
      },
    );
  });

  describe('LangChain (@langchain/openai ChatOpenAI)', () => {
    const chat = () =>
      new ChatOpenAI({ model: 'chat', apiKey: 'unused', configuration: { baseURL: baseURL() }, maxRetries: 0 });

    it('invoke with a SystemMessage', async () => {
      const message = await chat().invoke([new SystemMessage(system), new HumanMessage(question)]);
      expect(typeof message.content).toBe('string');
      expect((message.content as string).length).toBeGreaterThan(0);
      expect(message.usage_metadata?.output_tokens).toBe(12);
    });

    it('stream', async () => {
      let text = '';
      for await (const chunk of await chat().stream([new SystemMessage(system), new HumanMessage(question)]))
        text += chunk.content as string;
      expect(text.length).toBeGreaterThan(0);
    });

    it.each(schemas)(
      'withStructuredOutput (method jsonSchema) of %s, from an answer that ends with its JSON',
      async (_, schema) => {
        const structured = chat().withStructuredOutput(schema, { method: 'jsonSchema', includeRaw: true });
        const { raw, parsed } = await structured.invoke([new SystemMessage(system), new HumanMessage(question)]);
        expect(schema.parse(parsed)).toEqual(parsed);
        expect((raw.response_metadata as { finish_reason?: string }).finish_reason).toBe('stop');
        expect(raw.content).toBe((raw.content as string).trimEnd());
      },
    );
  });
});
