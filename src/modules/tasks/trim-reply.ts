import { firstChars } from '../model/generation/reply-text.js';

const SENTENCE_END = /[.!?。！？…](?=\s|$)|[。！？]/gu;

/**
 * Fits a reply into `maxChars` characters (code points). A reply cut by a cap ends at the last
 * sentence end that fits, else at the last word break, else at a character boundary; a character
 * split across tokens (shown as U+FFFD) never ends a reply.
 */
export function trimReply(text: string, maxChars: number, complete: boolean): string {
  const chars = [...text.trim()];
  if (complete && chars.length <= maxChars) return chars.join('');
  const fitted = firstChars(chars.join(''), maxChars);
  const sentenceEnds = [...fitted.matchAll(SENTENCE_END)];
  const lastSentenceEnd = sentenceEnds.length ? sentenceEnds[sentenceEnds.length - 1] : undefined;
  if (lastSentenceEnd?.index) return fitted.slice(0, lastSentenceEnd.index + lastSentenceEnd[0].length).trim();
  const lastSpace = fitted.search(/\s\S*$/u);
  if (lastSpace > 0 && chars.length > maxChars) return fitted.slice(0, lastSpace).trim();
  return fitted.trim();
}
