import { grammarSchema, UnsupportedSchemaError } from './json-schema-support.js';

describe('JSON schemas the generation grammar can hold answers to', () => {
  it('keeps the keywords it enforces and drops annotations, at every depth', () => {
    expect(
      grammarSchema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        title: 'Order',
        type: 'object',
        properties: {
          id: { type: 'string', description: 'the order number', maxLength: 12 },
          items: { type: 'array', items: { $ref: '#/$defs/item' }, maxItems: 3 },
        },
        required: ['id'],
        additionalProperties: false,
        $defs: { item: { oneOf: [{ const: 'a' }, { enum: [1, 2], default: 1 }] } },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        id: { type: 'string', maxLength: 12 },
        items: { type: 'array', items: { $ref: '#/$defs/item' }, maxItems: 3 },
      },
      required: ['id'],
      additionalProperties: false,
      $defs: { item: { oneOf: [{ const: 'a' }, { enum: [1, 2] }] } },
    });
  });

  it.each([
    [{ type: 'object', properties: { n: { type: 'integer', minimum: 1 } } }, '#/properties/n/minimum is not supported'],
    [{ anyOf: [{ type: 'string' }, { type: 'null' }] }, '#/anyOf is not supported'],
    [{ type: 'array', items: { type: 'string', pattern: 'x' } }, '#/items/pattern is not supported'],
    [{ $ref: 'https://example.com/schema' }, '#/$ref must point into $defs (#/$defs/name)'],
    [{ type: 'string', format: 'email' }, '#/format only date-time, time, date are supported'],
    [{ type: 'decimal' }, '#/type must be one of'],
    [{ oneOf: [{ type: 'string' }, 'x'] }, '#/oneOf/1 a schema must be a JSON object'],
  ])('refuses %j, naming where: %s', (schema, problem) => {
    expect(() => grammarSchema(schema)).toThrow(UnsupportedSchemaError);
    expect(() => grammarSchema(schema)).toThrow(problem);
  });
});
