import { jest } from '@jest/globals';
import { join } from 'node:path';
import type { Generation } from '../../src/modules/model/generation/generation.types.js';
import { InferenceService } from '../../src/modules/model/inference.service.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'extract.yaml');
const sentiment = {
  type: 'json_schema',
  json_schema: {
    name: 'sentiment',
    schema: {
      type: 'object',
      properties: { sentiment: { type: 'string', enum: ['positive', 'negative'] } },
      required: ['sentiment'],
      additionalProperties: false,
    },
  },
};
const texts = ['I hate this airline.', 'Where is my order?'];
const endsWithSpace = (text: string) => /\s$/.test(text);

/**
 * JSON answers end with their JSON. node-llama-cpp's schema grammar makes newlines follow the root
 * value ("}" "\n\n\n\n" [\n]*) and only its own chat and completion classes stop on them, so a
 * greedy loop that does not stop at the root spends tokens on newlines until an end token or the
 * cap. These pin that Duet stops there, whatever node-llama-cpp's grammars let follow.
 */
describe('JSON answers end as soon as their root value is complete (tiny model)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TASKS_FILE });
  });
  afterAll(() => t.close());
  const complete = async (text: string, responseFormat: object, maxTokens?: number) => {
    const res = await t.post('/v1/chat/completions', {
      model: 'chat',
      messages: [{ role: 'user', content: text }],
      response_format: responseFormat,
      max_tokens: maxTokens,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    return {
      content: body.choices[0].message.content as string,
      finishReason: body.choices[0].finish_reason as string,
      tokens: body.usage.completion_tokens as number,
    };
  };

  it.each(texts)('json_schema for %j: stop, valid, nothing after the JSON, no token past it', async (text) => {
    const answer = await complete(text, sentiment);
    expect(answer.finishReason).toBe('stop');
    expect(['positive', 'negative']).toContain(JSON.parse(answer.content).sentiment);
    expect(endsWithSpace(answer.content)).toBe(false);
    // The last token closed the JSON: one fewer cannot finish it.
    expect(await complete(text, sentiment, answer.tokens)).toEqual(answer);
    expect((await complete(text, sentiment, answer.tokens - 1)).finishReason).toBe('length');
  });

  it('json_object: a stop is a parsed object with nothing after it, a length is cut JSON', async () => {
    // Whether random weights close an object within the cap is theirs to decide; how it ends is not.
    const answers = [];
    for (const text of texts) answers.push(await complete(text, { type: 'json_object' }, 16));
    for (const answer of answers) {
      expect(answer.content.startsWith('{')).toBe(true);
      if (answer.finishReason === 'length') expect(() => JSON.parse(answer.content)).toThrow();
      else {
        expect(typeof JSON.parse(answer.content)).toBe('object');
        expect(endsWithSpace(answer.content)).toBe(false);
      }
    }
    // On this fixture the first text closes one (its grammar allows white space after it).
    expect(answers[0]).toMatchObject({ finishReason: 'stop', content: '{}' });
  });

  it.each(['Order 88123: the kettle arrived broken, I want my money back.', 'Where is order 55?'])(
    'extract for %j: stop, valid data, generated text with nothing after the JSON',
    async (text) => {
      const generate = jest.spyOn(t.app.get(InferenceService), 'generate');
      try {
        const res = await t.post('/v1/extract/ticket', { text });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ finishReason: 'stop', data: { action: expect.any(String) } });
        const generation = (await generate.mock.results[0].value) as Generation;
        expect(JSON.parse(generation.text)).toEqual(res.json().data);
        expect(endsWithSpace(generation.text)).toBe(false);
        expect(res.json().usage.completionTokens).toBe(generation.completionTokens);
      } finally {
        generate.mockRestore();
      }
    },
  );
});
