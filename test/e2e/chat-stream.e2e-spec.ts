import { serverPerSuite } from '../support/suite-server.js';

interface StreamEvent {
  event: string;
  data: any;
}

/** Reads an SSE response into events, optionally stopping (and disconnecting) after `stopAfter` events. */
async function readEvents(response: Response, stopAfter = Infinity, abort?: AbortController): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body!.getReader();
  while (events.length < stopAfter) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0 && events.length < stopAfter) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      events.push({ event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]) });
    }
  }
  if (abort) {
    abort.abort();
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

const chat = (url: string, body: object, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
const messages = [{ role: 'user', content: 'Tell me about your return policy, please.' }];

describe('POST /v1/chat with "stream": true', () => {
  const server = serverPerSuite({ SEQUENCES: '1', MAX_QUEUE: '0', CHAT_MAX_TOKENS: '256', CHAT_MAX_CHARS: '2000' });

  it('streams text deltas as Server-Sent Events, then a done event with finishReason and usage', async () => {
    const response = await chat(server().url, { messages, maxChars: 80, stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    const events = await readEvents(response);
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(events[events.length - 1]).toEqual({
      event: 'done',
      data: { finishReason: 'length', usage: expect.any(Object) },
    });
    const streamed = deltas.map((e) => e.data.text).join('');
    expect([...streamed].length).toBeLessThanOrEqual(80);
    for (const delta of deltas) expect(delta.data.text).not.toMatch(/\uFFFD$/u); // a split character is held back
    // The same request without streaming: same tokens, and its reply (trimmed to a boundary) begins the stream.
    const plain = (await (await chat(server().url, { messages, maxChars: 80 })).json()) as {
      reply: string;
      usage: object;
    };
    expect(events[events.length - 1].data.usage).toEqual(plain.usage);
    expect(streamed.startsWith(plain.reply)).toBe(true);
  });

  it('answers errors before the first event as plain JSON with their status', async () => {
    const invalid = await chat(server().url, { messages: [], stream: true });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toMatch(/^application\/json/);
    const running = chat(server().url, { messages, maxChars: 400 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await chat(server().url, { messages, stream: true });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { statusCode: number }).statusCode).toBe(503);
    await running;
  });

  it('stops generating when the client disconnects mid-stream', async () => {
    const completionTokens = async () =>
      Number(
        /duet_tokens_total\{task="chat",kind="completion"\} (\d+)/.exec(
          await (await fetch(`${server().url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await completionTokens();
    const client = new AbortController();
    const response = await chat(server().url, { messages, maxChars: 2000, stream: true }, client.signal);
    const events = await readEvents(response, 2, client);
    expect(events.map((e) => e.event)).toEqual(['delta', 'delta']);
    let active = 1;
    for (let i = 0; i < 100 && active > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      active = ((await (await fetch(`${server().url}/health/memory`)).json()) as { activeSequences: number })
        .activeSequences;
    }
    expect(active).toBe(0);
    expect(await completionTokens()).toBe(before); // the generation never finished: its tokens were never counted
    expect(await (await fetch(`${server().url}/metrics`)).text()).toMatch(
      /duet_requests_total\{route="\/v1\/chat",status="499"\} 1/,
    );
  });
});
