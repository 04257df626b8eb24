/**
 * The first `maxChars` characters (code points) of a reply, without a character split across
 * tokens at its end (node-llama-cpp shows an incomplete one as U+FFFD).
 */
export function firstChars(text: string, maxChars: number): string {
  return [...text]
    .slice(0, maxChars)
    .join('')
    .replace(/\uFFFD+$/u, '');
}
