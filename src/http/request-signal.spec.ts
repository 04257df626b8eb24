import { requestTimeout } from './request-signal.js';

describe('requestTimeout (X-Request-Timeout)', () => {
  it('is REQUEST_TIMEOUT_MS without the header, the header when shorter, capped when longer', () => {
    expect(requestTimeout(undefined, 30000)).toBe(30000);
    expect(requestTimeout('250', 30000)).toBe(250);
    expect(requestTimeout(' 250 ', 30000)).toBe(250);
    expect(requestTimeout('0250', 30000)).toBe(250);
    expect(requestTimeout('90000', 30000)).toBe(30000);
    expect(requestTimeout('9999999999999999', 30000)).toBe(30000);
  });

  it.each([[''], ['0'], ['-5'], ['1.5'], ['1e3'], ['abc'], ['12ms'], [['100', '200']]])(
    'names what is wrong with %p',
    (header) => {
      const asked = requestTimeout(header, 30000);
      expect(asked).toEqual({ problem: expect.stringMatching(/^must be a positive integer of milliseconds, got '/) });
    },
  );
});
