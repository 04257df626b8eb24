import { jsonRootEnd } from './json-root-end.js';

describe('jsonRootEnd', () => {
  it('ends an object or array at its closing bracket, leaving what follows', () => {
    expect(jsonRootEnd('{"sentiment": "negative"}\n\n\n\n\n')).toBe(25);
    expect(jsonRootEnd('  [1, [2, {"a": []}]]\n')).toBe(21);
    expect(jsonRootEnd('{}')).toBe(2);
  });

  it('is undefined until the root value closes', () => {
    for (const prefix of ['', '\n ', '{', '{"a": [1, 2]', '{"a": "}"', '[{"b": {}}', '"open'])
      expect(jsonRootEnd(prefix)).toBeUndefined();
  });

  it('reads brackets, quotes and backslashes inside strings as text', () => {
    expect(jsonRootEnd('{"a": "} ] \\" {"}')).toBe(17);
    expect(jsonRootEnd('{"a": "\\\\"}\n')).toBe(11);
    expect(jsonRootEnd('"say \\"hi\\""\n\n')).toBe(12);
    expect(jsonRootEnd('"tail \\')).toBeUndefined();
  });

  it('ends a number or literal root only once something follows it, since it could still grow', () => {
    expect(jsonRootEnd('12')).toBeUndefined();
    expect(jsonRootEnd('12.5e3\n\n')).toBe(6);
    expect(jsonRootEnd(' true\n')).toBe(5);
    expect(jsonRootEnd('null')).toBeUndefined();
  });
});
