// Numbers on the soak's and the benches' command lines. A typo is refused with the option's name:
// read as NaN it would start a run with no clients, no readings or no texts, and say so nowhere.

/** A whole number of at least `min`. */
export function wholeNumber(name: string, text: string, min = 1): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min)
    throw new Error(`--${name} must be a whole number of at least ${min}, got "${text}"`);
  return value;
}

export function optionalWholeNumber(name: string, text: string | undefined, min = 1): number | undefined {
  return text === undefined ? undefined : wholeNumber(name, text, min);
}

/** A number from 0 up to, but not including, 1. */
export function fraction(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value < 1))
    throw new Error(`--${name} must be a fraction from 0 up to (not including) 1, got "${text}"`);
  return value;
}

/** A finite number of at least 0. */
export function nonNegativeNumber(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a number of at least 0, got "${text}"`);
  return value;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function duration(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!match || Number(match[1]) === 0)
    throw new Error(`--${name} must be a duration such as 90s, 30m or 2h, got "${text}"`);
  return Number(match[1]) * DURATION_UNITS[match[2]];
}
