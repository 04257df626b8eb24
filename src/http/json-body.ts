import type { FastifyInstance } from 'fastify';
import { invalidRequest } from './validation.pipe.js';

/** Levels of nested objects and arrays a JSON body may have; Duet's own requests use 3. */
export const MAX_JSON_DEPTH = 32;
/**
 * Array elements and object fields a JSON body may have in all; 100 chat messages make about 300.
 * Huge bodies block the event loop while parsed, and class-transformer dedupes an object's keys in
 * quadratic time (docs/security.md).
 */
export const MAX_JSON_ITEMS = 2048;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const [SPACE, TAB, LINE_FEED, CARRIAGE_RETURN] = [0x20, 0x09, 0x0a, 0x0d];
const [OPEN_BRACKET, CLOSE_BRACKET, OPEN_BRACE, CLOSE_BRACE] = [0x5b, 0x5d, 0x7b, 0x7d];

/** Index of the quote that ends the string opening at `start`, or the text's length. */
function endOfString(text: string, start: number): number {
  for (let quote = text.indexOf('"', start + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return text.length;
}

/**
 * What makes a JSON text too deep or too large, read from the raw text before it is parsed, so
 * an oversize body is refused after reading only as far as its limit (a whole body takes about as
 * long to check as to parse). On text that is not JSON the verdict does not matter: the parser
 * refuses it anyway.
 */
export function jsonBodyProblem(text: string): string | undefined {
  let depth = 0;
  let items = 0;
  // The first item of an array or object is the one not preceded by a comma.
  let opened = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Comparisons, not a Set: this loop runs over every character outside strings.
    if (c === SPACE || c === TAB || c === LINE_FEED || c === CARRIAGE_RETURN) continue;
    if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
      opened = false;
      continue;
    }
    if (opened) items++;
    opened = false;
    if (c === QUOTE) i = endOfString(text, i);
    else if (c === COMMA) items++;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      opened = true;
      if (++depth > MAX_JSON_DEPTH)
        return `the body must not nest objects and arrays deeper than ${MAX_JSON_DEPTH} levels`;
    }
    if (items > MAX_JSON_ITEMS)
      return `the body must not have more than ${MAX_JSON_ITEMS} array elements and object fields in all`;
  }
  return undefined;
}

/**
 * Fastify's own JSON parser (with its prototype-poisoning checks) behind the limits above,
 * answered as a 400 in the validation pipe's format. class-transformer and the validation pipe
 * recurse, so a deeper body would overflow their stack (a 500).
 */
export function useBoundedJsonParser(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body: string, done) => {
    const problem = jsonBodyProblem(body);
    if (problem) done(invalidRequest([{ field: 'body', problems: [problem] }]), undefined);
    else parseJson(request, body, done);
  });
}
