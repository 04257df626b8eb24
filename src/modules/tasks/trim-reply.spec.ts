import { trimReply } from './trim-reply.js';

describe('trimReply', () => {
  it('keeps a complete reply that fits, minus surrounding whitespace', () => {
    expect(trimReply('  Hello there!  ', 60, true)).toBe('Hello there!');
  });

  it('cuts a capped reply at the last sentence end that fits', () => {
    expect(trimReply('We open at nine. We close at five, except on', 30, false)).toBe('We open at nine.');
    expect(trimReply('我们九点开门。周末休息，节假日另行通知', 12, false)).toBe('我们九点开门。');
  });

  it('falls back to the last word break, then to a character boundary', () => {
    expect(trimReply('Thanks for waiting patiently today', 20, false)).toBe('Thanks for waiting');
    expect(trimReply('我们九点开门周末休息节假日另行通知', 6, false)).toBe('我们九点开门');
  });

  it('counts characters, not UTF-16 units, and never ends on a broken character', () => {
    expect(trimReply('🙂🙂🙂🙂', 3, false)).toBe('🙂🙂🙂');
    expect(trimReply('abc\uFFFD', 10, false)).toBe('abc');
  });

  it('trims a complete reply that is over the cap too', () => {
    expect([...trimReply('One. Two. Three.', 9, true)].length).toBeLessThanOrEqual(9);
  });
});
