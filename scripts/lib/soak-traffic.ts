import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_DATA_DIR } from '../../test/support/dev-sets.js';

/** One soak request: what to send and which statuses count as correct. */
export interface SoakRequest {
  kind: string;
  path: string;
  body: string;
  contentType: string;
  expect: number[];
  /** Abort the request after this many milliseconds (a client that goes away). */
  abortAfterMs?: number;
}

const FALLBACK_TEXTS = [
  'The flight was delayed three hours and nobody told us anything.',
  'Great crew, smooth landing, thank you!',
  '送餐很快，味道也不错。',
  '房间太小了，隔音很差，不会再来。',
  'Is my order shipped yet?',
];

/** Texts from ../shared/data when it is there (the labelled dev sets), else a few built-in ones. */
export function loadSoakTexts(dataDir = DEV_DATA_DIR): string[] {
  if (!existsSync(dataDir)) return FALLBACK_TEXTS;
  const files = ['sentiment-dev-en-airline.jsonl', 'sentiment-dev-zh-waimai.jsonl', 'sentiment-dev-zh-hotel.jsonl'];
  const texts = files
    .filter((file) => existsSync(join(dataDir, file)))
    .flatMap((file) =>
      readFileSync(join(dataDir, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { text: string }).text),
    );
  return texts.length ? texts : FALLBACK_TEXTS;
}

/**
 * Each text cut to its first `maxChars` characters (code points, so no emoji is split). Short texts
 * keep every request's code path and allocations but cut its compute, for long soaks on a big model.
 */
export function shortenTexts(texts: readonly string[], maxChars: number): string[] {
  return texts.map((text) => Array.from(text).slice(0, maxChars).join(''));
}

/** What the traffic is sized by: the server's body limit (for the 413 case) and, optionally, a cap on chat replies. */
export interface SoakShape {
  maxBodyBytes: number;
  chatMaxChars?: number;
}

const json = (value: unknown) => JSON.stringify(value);

/**
 * The i-th request of a fixed mix: 40% sentiment, 10% batch, 20% chat, 20% bad requests (each
 * with the 4xx it must get), 10% client aborts. Deterministic: the same index, the same request.
 */
export function soakRequest(
  i: number,
  texts: readonly string[],
  { maxBodyBytes, chatMaxChars }: SoakShape,
): SoakRequest {
  const text = texts[(i * 7919) % texts.length];
  const slot = i % 20;
  const sentiment = (body: unknown): SoakRequest => ({
    kind: 'sentiment',
    path: '/v1/sentiment',
    body: json(body),
    contentType: 'application/json',
    expect: [200],
  });
  const chat = (content: string): SoakRequest => ({
    kind: 'chat',
    path: '/v1/chat',
    contentType: 'application/json',
    expect: [200],
    body: json({
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Hi! How can I help?' },
        { role: 'user', content },
      ],
      maxChars: chatMaxChars,
    }),
  });
  const bad = (kind: string, body: string, status: number, contentType = 'application/json'): SoakRequest => ({
    kind: `bad:${kind}`,
    path: '/v1/sentiment',
    body,
    contentType,
    expect: [status],
  });
  if (slot < 8) return sentiment(slot % 2 ? { text } : { text, labels: ['positive', 'negative'] });
  if (slot < 10) {
    const items = Array.from({ length: 2 + (i % 7) }, (_, k) => ({
      id: `t${k}`,
      text: texts[(i + k * 31) % texts.length],
    }));
    return {
      kind: 'batch',
      path: '/v1/sentiment/batch',
      body: json({ items }),
      contentType: 'application/json',
      expect: [200],
    };
  }
  if (slot < 14) return chat(text.slice(0, 200));
  switch (slot) {
    case 14:
      return bad('empty-text', json({ text: '' }), 400);
    case 15:
      return bad('unknown-label', json({ text, labels: ['positive', 'angry'] }), 400);
    case 16:
      return bad('malformed-json', '{"text": "unterminated', 400);
    case 17:
      return i % 40 === 17
        ? bad('too-large', json({ text: 'x'.repeat(maxBodyBytes) }), 413)
        : bad('not-json', `text=${encodeURIComponent(text)}`, 415, 'text/plain');
    case 18:
      return { ...chat(text.slice(0, 200)), kind: 'abort:chat', abortAfterMs: 5 + (i % 30), expect: [200] };
    default:
      return { ...sentiment({ text }), kind: 'abort:sentiment', abortAfterMs: 1 + (i % 10) };
  }
}
