// Generated requests for every Duet route and the checks every response must pass: shared by
// the in-process property tests (test/fuzz.e2e-spec.ts) and `npm run fuzz` over HTTP.
import fc from 'fast-check';
import { MAX_ERROR_BODY_BYTES, OPENAI_PATHS } from '../../src/app/error-body.js';
import { MAX_JSON_DEPTH, MAX_JSON_ITEMS } from '../../src/http/json-body.js';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** Why the request must not succeed, when it must not. */
  mustFail?: string;
}

export interface FuzzResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
}

export const POST_ROUTES = ['/v1/sentiment', '/v1/sentiment/batch', '/v1/chat', '/v1/chat/completions'];
export const GET_ROUTES = [
  '/v1/models',
  '/health/live',
  '/health/ready',
  '/health/memory',
  '/metrics',
  '/docs/openapi.json',
  '/docs',
  '/',
];

// Bodies ---------------------------------------------------------------------------------------

/** Any JSON value, small: what a field gets when the client sends the wrong thing. */
const junk = fc.jsonValue({ maxDepth: 2, depthSize: 'small' });
/** Mostly the expected kind of value, sometimes junk; records leave each field out half the time. */
const loose = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: junk as fc.Arbitrary<unknown> });
const fields = <T extends Record<string, unknown>>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(model, { requiredKeys: [] });
/** Short texts keep the tiny model's work per valid request to a few milliseconds. */
const text = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('', ' ', '\n\t', 'great service', '太咸了，没法吃。'),
);
const labels = fc.array(fc.constantFrom('positive', 'negative', 'neutral', 'angry'), { maxLength: 4 });
const message = fields({ role: loose(fc.constantFrom('user', 'assistant', 'system')), content: loose(text) });
const textPart = fields({ type: loose(fc.constantFrom('text', 'image_url')), text: loose(text) });
const openAiMessage = fields({
  role: loose(fc.constantFrom('user', 'assistant', 'system', 'developer', 'tool')),
  content: loose(fc.oneof(text, fc.array(textPart, { maxLength: 2 }))),
  name: loose(fc.string({ maxLength: 6 })),
});
const messages = loose(fc.array(message, { maxLength: 3 }));

const BODIES: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  '/v1/sentiment': fields({ text: loose(text), labels: loose(labels) }),
  '/v1/sentiment/batch': fields({
    items: loose(fc.array(fields({ id: loose(fc.string({ maxLength: 6 })), text: loose(text) }), { maxLength: 3 })),
    labels: loose(labels),
  }),
  '/v1/chat': fields({ messages, maxChars: loose(fc.integer({ min: -1, max: 12 })), stream: loose(fc.boolean()) }),
  '/v1/chat/completions': fields({
    model: loose(fc.string({ maxLength: 8 })),
    messages: loose(fc.array(openAiMessage, { maxLength: 3 })),
    max_tokens: loose(fc.integer({ min: -1, max: 3 })),
    stream: loose(fc.boolean()),
    stream_options: loose(fields({ include_usage: loose(fc.boolean()) })),
    n: loose(fc.integer({ min: 0, max: 2 })),
    temperature: junk,
    stop: loose(fc.oneof(text, fc.array(text, { maxLength: 5 }))),
    tools: loose(fc.array(junk, { maxLength: 1 })),
    tool_choice: junk,
    response_format: loose(
      fields({
        type: loose(fc.constantFrom('text', 'json_object', 'json_schema')),
        json_schema: loose(fields({ schema: loose(junk.filter((v) => typeof v === 'object')), strict: junk })),
      }),
    ),
  }),
};

/** Every field any request DTO has: an "unknown" field must be none of them. */
const KNOWN_FIELDS = new Set([
  ...['text', 'labels', 'items', 'id', 'messages', 'role', 'content', 'maxChars', 'stream', 'model'],
  ...['max_tokens', 'max_completion_tokens', 'stream_options', 'include_usage', 'n'],
  ...['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'seed', 'stop', 'user'],
  ...['name', 'type', 'tools', 'tool_choice', 'response_format', 'json_schema', 'schema', 'strict'],
  ...['logprobs', 'top_logprobs'],
]);
/** Routes that follow a foreign API and ignore fields they do not know, as its clients expect. */
const IGNORES_UNKNOWN_FIELDS = new Set(['/v1/chat/completions']);
/** Fields no DTO has, some named like members of Object.prototype (which class-validator missed). */
const unknownFields = fc.dictionary(
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 8 }),
      fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype).filter((name) => name !== '__proto__')),
    )
    .filter((name) => !KNOWN_FIELDS.has(name)),
  junk,
  { minKeys: 1, maxKeys: 3 },
);

const post = (url: string, payload: string, contentType: string | undefined = 'application/json'): FuzzRequest => ({
  method: 'POST',
  url,
  headers: contentType === undefined ? {} : { 'content-type': contentType },
  payload,
});

/** Bodies shaped like each route's request, often valid, usually with an unknown field too (never a 2xx on Duet's routes). */
export const shapedRequest = fc
  .constantFrom(...POST_ROUTES)
  .chain((url) => fc.tuple(fc.constant(url), BODIES[url], fc.option(unknownFields, { freq: 3 })))
  .map(([url, body, unknown]) => ({
    ...post(url, JSON.stringify({ ...body, ...unknown })),
    ...(unknown && !IGNORES_UNKNOWN_FIELDS.has(url)
      ? { mustFail: `the unknown fields ${Object.keys(unknown).join(', ')}` }
      : {}),
  }));

/** Any JSON value as the body of any POST route. */
export const jsonRequest = fc
  .tuple(fc.constantFrom(...POST_ROUTES), fc.jsonValue({ maxDepth: 4 }))
  .map(([url, body]) => post(url, JSON.stringify(body) ?? 'null'));

const nested = (levels: number) => `{"text":"hi","x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
/** Bodies that are not JSON, cut short, too deep, too wide or poisoned, under any content type. */
export const rawRequest = fc
  .tuple(
    fc.constantFrom(...POST_ROUTES),
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc
        .jsonValue({ maxDepth: 3 })
        .map((value) => JSON.stringify(value) ?? '')
        .chain((json) => fc.nat(json.length).map((cut) => json.slice(0, cut))),
      fc.integer({ min: MAX_JSON_DEPTH - 2, max: MAX_JSON_DEPTH + 8 }).map(nested),
      fc
        .integer({ min: MAX_JSON_ITEMS - 8, max: MAX_JSON_ITEMS + 8 })
        .map((length) => JSON.stringify({ messages: Array.from({ length }, () => ({})) })),
      fc.constantFrom(
        '',
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        '{"text":"hi","constructor":null}',
        '{"text":"hi","hasOwnProperty":1}',
        `{"messages":[{"role":"user","content":"hi","${'k'.repeat(20_000)}":1}]}`,
      ),
    ),
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      undefined,
    ),
  )
  .map(([url, payload, contentType]) => post(url, payload, contentType));

/** Any method on any route or on paths that are none, with a query string. */
export const otherRequest = fc
  .tuple(
    fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    fc.oneof(fc.constantFrom(...GET_ROUTES, ...POST_ROUTES), fc.webPath({ size: 'small' })),
    fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 })),
  )
  .map(([method, path, query]): FuzzRequest => {
    const search = query ? new URLSearchParams(query).toString() : '';
    return { method, url: `${path || '/'}${search ? `?${search}` : ''}`, headers: {} };
  });

export const anyRequest = fc.oneof(
  { weight: 3, arbitrary: shapedRequest },
  { weight: 3, arbitrary: jsonRequest },
  { weight: 2, arbitrary: rawRequest },
  { weight: 2, arbitrary: otherRequest },
);

// Checks ---------------------------------------------------------------------------------------

/** Checks an error body; `status` is the response's, or none for a stream's error event. */
type ShapeCheck = (body: any, status?: number) => string | undefined;

const isObject = (body: unknown) => typeof body === 'object' && body !== null && !Array.isArray(body);
const extraFields = (body: object, allowed: string[]) => Object.keys(body).filter((key) => !allowed.includes(key));

/** Duet's routes: `{statusCode, error, message, details?}`, statusCode the response's status (any error's in a stream). */
const duetErrorShape: ShapeCheck = (body, status) => {
  if (!isObject(body)) return 'the error is not a JSON object';
  const extra = extraFields(body, ['statusCode', 'error', 'message', 'details']);
  if (extra.length > 0) return `the error has fields ${extra.join(', ')}`;
  if (status === undefined ? !(body.statusCode >= 400) : body.statusCode !== status)
    return `statusCode ${body.statusCode} is not the status ${status ?? 'of an error'}`;
  if (typeof body.error !== 'string' || typeof body.message !== 'string') return 'error and message are not strings';
  return undefined;
};

/** The OpenAI-compatible routes: OpenAI's `{error: {message, type, param, code}}`. */
const openAiErrorShape: ShapeCheck = (body) => {
  if (!isObject(body) || !isObject(body.error)) return "the error is not in OpenAI's envelope";
  const extra = [...extraFields(body, ['error']), ...extraFields(body.error, ['message', 'type', 'param', 'code'])];
  if (extra.length > 0) return `the error has fields ${extra.join(', ')}`;
  const { message, type, param, code } = body.error;
  if (typeof message !== 'string' || typeof type !== 'string') return 'message and type are not strings';
  if (!(param === null || typeof param === 'string') || !(code === null || typeof code === 'string'))
    return 'param and code are not strings or null';
  return undefined;
};

/** Health routes: terminus' report of every indicator when a check fails (503), Duet's shape otherwise. */
const healthErrorShape: ShapeCheck = (body, status) =>
  status === 503
    ? body?.status === 'error' && typeof body.details === 'object'
      ? undefined
      : 'the 503 is not a health report'
    : duetErrorShape(body, status);

function errorShapeOf(url: string): ShapeCheck {
  const path = url.split('?')[0];
  if (OPENAI_PATHS.some((root) => path === root || path.startsWith(`${root}/`))) return openAiErrorShape;
  if (path.startsWith('/health/')) return healthErrorShape;
  return duetErrorShape;
}

/** The `data` of each `error` event in a Server-Sent Events body. */
function streamErrors(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => /^event: error$/m.test(block))
    .map((block) => /^data: (.*)$/m.exec(block)?.[1] ?? '');
}

/** What is wrong with an error body; `status` is the response's, or none for a stream's error event. */
function errorProblem(check: ShapeCheck, raw: string, status?: number): string | undefined {
  if (Buffer.byteLength(raw) > MAX_ERROR_BODY_BYTES) return `an error of ${Buffer.byteLength(raw)} bytes`;
  let body: any;
  try {
    body = JSON.parse(raw);
  } catch {
    return 'the error is not JSON';
  }
  return check(body, status);
}

/**
 * What is wrong with a response, if anything: a success for a request that must fail, a 5xx (503
 * and 504 only where the caller provoked them), an error outside its route's shape, or one over
 * MAX_ERROR_BODY_BYTES (also as a stream's error event).
 */
export function responseProblem(
  request: FuzzRequest,
  response: FuzzResponse,
  options: { overloadAllowed?: boolean } = {},
): string | undefined {
  const { status } = response;
  if (request.mustFail && status < 300) return `a ${status} for ${request.mustFail}`;
  if (status >= 500 && !(options.overloadAllowed && (status === 503 || status === 504))) return `status ${status}`;
  if (request.method === 'HEAD') return undefined;
  const check = errorShapeOf(request.url);
  if (status >= 400) return errorProblem(check, response.body.toString('utf8'), status);
  if (!String(response.headers['content-type']).startsWith('text/event-stream')) return undefined;
  for (const data of streamErrors(response.body.toString('utf8'))) {
    const problem = errorProblem(check, data);
    if (problem) return `stream error event: ${problem}`;
  }
  return undefined;
}
