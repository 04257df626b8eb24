import { stopIndex, withoutStopStart } from './stop-strings.js';

describe('stop strings', () => {
  it('finds the earliest of several stop strings', () => {
    expect(stopIndex('one. two! three', ['!', '.'])).toBe(3);
    expect(stopIndex('one two', ['!', '.'])).toBeUndefined();
    expect(stopIndex('anything')).toBeUndefined();
  });

  it('holds back the longest ending that may grow into a stop string', () => {
    expect(withoutStopStart('Hello\nUs', ['\nUser:'])).toBe('Hello');
    expect(withoutStopStart('Hello\n', ['\nUser:', 'lo\nX'])).toBe('Hel');
    expect(withoutStopStart('Hello', ['\nUser:'])).toBe('Hello');
    expect(withoutStopStart('ab', ['b'])).toBe('ab');
  });
});
