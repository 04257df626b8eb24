import type { GbnfJsonSchema } from 'node-llama-cpp';

/** A JSON schema as a client or the tasks file gives it. */
export type JsonSchema = Record<string, unknown>;

/**
 * A JSON schema with a keyword (or a value) the generation grammar cannot enforce; `path` is the
 * JSON pointer of the keyword within the schema.
 */
export class UnsupportedSchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`the JSON schema's ${path} ${problem}`);
  }
}

/**
 * What node-llama-cpp's JSON-schema grammar can hold generation to; each keyword's value is how
 * to check it and reach the schemas inside it.
 */
const SUPPORTED = {
  type: 'types',
  const: 'value',
  enum: 'values',
  oneOf: 'schemas',
  properties: 'schemaMap',
  required: 'names',
  additionalProperties: 'schemaOrBoolean',
  minProperties: 'count',
  maxProperties: 'count',
  items: 'schema',
  prefixItems: 'schemas',
  minItems: 'count',
  maxItems: 'count',
  minLength: 'count',
  maxLength: 'count',
  format: 'format',
  $defs: 'schemaMap',
  $ref: 'ref',
} as const;

/** Annotations that constrain nothing: dropped (schema generators such as zod emit them). */
export const IGNORED_SCHEMA_KEYWORDS = [
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
];
export const SUPPORTED_SCHEMA_KEYWORDS = Object.keys(SUPPORTED);

const TYPES = ['string', 'number', 'integer', 'boolean', 'null', 'object', 'array'];
const FORMATS = ['date-time', 'time', 'date'];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;

/**
 * The schema as node-llama-cpp's grammar takes it: annotations dropped, every other keyword
 * checked. UnsupportedSchemaError names the first keyword the grammar cannot enforce (anyOf,
 * pattern, minimum…), or a value it cannot take, and where it is: a schema held only in part
 * would let answers through that do not validate.
 */
export function grammarSchema(schema: unknown, path = '#'): GbnfJsonSchema {
  if (!isRecord(schema)) throw new UnsupportedSchemaError(path, 'a schema must be a JSON object');
  const kept: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (IGNORED_SCHEMA_KEYWORDS.includes(keyword)) continue;
    if (!Object.hasOwn(SUPPORTED, keyword)) throw new UnsupportedSchemaError(`${path}/${keyword}`, 'is not supported');
    kept[keyword] = checked(SUPPORTED[keyword as keyof typeof SUPPORTED], value, `${path}/${keyword}`);
  }
  return kept as GbnfJsonSchema;
}

function checked(kind: (typeof SUPPORTED)[keyof typeof SUPPORTED], value: unknown, path: string): unknown {
  const refuse = (problem: string) => {
    throw new UnsupportedSchemaError(path, problem);
  };
  switch (kind) {
    case 'types': {
      const types = Array.isArray(value) ? value : [value];
      if (types.length === 0 || !types.every((type) => TYPES.includes(type as string)))
        refuse(`must be one of ${TYPES.join(', ')}, or an array of them`);
      return value;
    }
    case 'value':
      return value;
    case 'values':
      if (!Array.isArray(value) || value.length === 0) refuse('must be a non-empty array');
      return value;
    case 'schemas':
      if (!Array.isArray(value) || value.length === 0) refuse('must be a non-empty array of schemas');
      return (value as unknown[]).map((item, index) => grammarSchema(item, `${path}/${index}`));
    case 'schemaMap':
      if (!isRecord(value)) refuse('must be an object of schemas');
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, item]) => [
          name,
          grammarSchema(item, `${path}/${name}`),
        ]),
      );
    case 'schema':
      return grammarSchema(value, path);
    case 'schemaOrBoolean':
      return typeof value === 'boolean' ? value : grammarSchema(value, path);
    case 'names':
      if (!Array.isArray(value) || !value.every((name) => typeof name === 'string'))
        refuse('must be an array of names');
      return value;
    case 'count':
      if (!isCount(value)) refuse('must be a non-negative integer');
      return value;
    case 'format':
      if (!FORMATS.includes(value as string)) refuse(`only ${FORMATS.join(', ')} are supported`);
      return value;
    case 'ref':
      if (typeof value !== 'string' || !value.startsWith('#/$defs/')) refuse('must point into $defs (#/$defs/name)');
      return value;
  }
}
