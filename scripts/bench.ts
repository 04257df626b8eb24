// Benchmarks against the physical limits, every ratio from figures taken in the same run.
// npm run bench [-- sentiment|chat|overhead|memory ...] [--model PATH] [--texts N]
// Each prints one JSON line. The raw baseline is node-llama-cpp in this process with the service's
// settings; the service is dist/main.js on loopback. Run on a quiet machine: prompt speed drifts with load.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuQuota } from '../src/config/cpu-quota.js';
import { SENTIMENT_LABELS, sentimentPrompt } from '../src/prompts/sentiment.prompt.js';
import { chatPrompt } from '../src/prompts/chat.prompt.js';
import { percentile, RawLlama } from './lib/raw-llama.js';
import { ServerProcess, startServerProcess } from './lib/server-process.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: 'test/fixtures/models/qwen2.5-0.5b.gguf' }, tiny: { type: 'string', default: 'test/fixtures/models/tiny.gguf' }, texts: { type: 'string', default: '60' } },
});
const threads = cpuQuota();
const report = (line: object) => console.log(JSON.stringify({ threads, ...line }));
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Short customer tweets from the English dev set (the reference workload). */
function tweets(count: number): string[] {
  const file = join(process.cwd(), '..', 'shared', 'data', 'sentiment-dev-en-airline.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return lines.slice(0, count).map((line) => (JSON.parse(line) as { text: string }).text);
}

const post = async (server: ServerProcess, path: string, body: object) => {
  const started = performance.now();
  const response = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as Record<string, any>;
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
  return { ms: performance.now() - started, json };
};

async function withServer<T>(modelPath: string, env: Record<string, string>, run: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await startServerProcess(modelPath, { LOG_LEVEL: 'warn', MEMORY_SNAPSHOT_INTERVAL_S: '0', MAX_QUEUE: '256', ...env });
  try {
    return await run(server);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

async function sentiment(): Promise<void> {
  const texts = tweets(Number(values.texts));
  const raw = await RawLlama.open(values.model!, threads);
  const prompts = texts.map((text) => raw.render(sentimentPrompt.buildTurns({ text, labels: SENTIMENT_LABELS })));
  await raw.promptTimes(prompts.slice(0, 5));
  const rawTimes = await raw.promptTimes(prompts);
  await raw.close();
  const promptTokens = prompts.reduce((sum, p) => sum + p.length, 0);
  const rawRate = promptTokens / (rawTimes.reduce((a, b) => a + b, 0) / 1000);
  const rawP50 = percentile(rawTimes, 50);
  await withServer(values.model!, {}, async (server) => {
    for (const text of texts.slice(0, 5)) await post(server, '/v1/sentiment', { text });
    const times = [];
    for (const text of texts) times.push((await post(server, '/v1/sentiment', { text })).ms);
    report({ bench: 'sentiment.sequential', requests: texts.length, p50Ms: round(percentile(times, 50)), rawP50Ms: round(rawP50), ratio: round(percentile(times, 50) / rawP50, 3), target: '<= 1.10 x raw p50' });
    for (const concurrency of [1, 4, 8]) {
      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < texts.length) await post(server, '/v1/sentiment', { text: texts[next++] });
      }));
      const seconds = (performance.now() - started) / 1000;
      report({ bench: 'sentiment.throughput', concurrency, requestsPerS: round(texts.length / seconds), promptTokensPerS: round(promptTokens / seconds, 1), rawPromptTokensPerS: round(rawRate, 1), ratio: round(promptTokens / seconds / rawRate, 3), target: '>= 0.95 x raw sequential rate' });
    }
    const items = texts.slice(0, 64);
    const batchTokens = prompts.slice(0, 64).reduce((sum, p) => sum + p.length, 0);
    const { ms } = await post(server, '/v1/sentiment/batch', { items: items.map((text) => ({ text })) });
    report({ bench: 'sentiment.batch', items: items.length, promptTokensPerS: round(batchTokens / (ms / 1000), 1), rawPromptTokensPerS: round(rawRate, 1), ratio: round(batchTokens / (ms / 1000) / rawRate, 3), target: '>= 0.95 x raw sequential rate' });
  });
}

async function chat(): Promise<void> {
  const tokens = 32;
  const messages = [{ role: 'user' as const, content: 'Hi! Can you tell me how long shipping to Canada usually takes?' }];
  const raw = await RawLlama.open(values.model!, threads);
  const prompt = raw.render(chatPrompt.buildTurns({ messages, maxChars: 2000 }));
  await raw.generation(prompt, 4);
  const rawRun = await raw.generation(prompt, tokens);
  await raw.close();
  await withServer(values.model!, { CHAT_MAX_TOKENS: String(tokens), CHAT_MAX_CHARS: '2000' }, async (server) => {
    await post(server, '/v1/chat', { messages, maxChars: 2000 });
    const started = performance.now();
    const response = await fetch(`${server.url}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages, maxChars: 2000, stream: true }) });
    const reader = response.body!.getReader();
    let firstAt = 0;
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      firstAt ||= performance.now();
    }
    const end = performance.now();
    const ttft = firstAt - started;
    const single = await post(server, '/v1/chat', { messages, maxChars: 2000 });
    const singleRate = single.json.usage.completionTokens / (single.ms / 1000);
    report({ bench: 'chat.first_token', ttftMs: round(ttft, 1), rawPromptMs: round(rawRun.promptMs, 1), overMs: round(ttft - rawRun.promptMs, 1), target: '<= raw prompt time + 20 ms' });
    report({ bench: 'chat.generation', tokensPerS: round(((tokens - 1) / (end - firstAt)) * 1000, 1), rawTokensPerS: round(rawRun.tokensPerS, 1), ratio: round(((tokens - 1) / (end - firstAt)) * 1000 / rawRun.tokensPerS, 3), target: '>= 0.95 x raw' });
    const started4 = performance.now();
    const four = await Promise.all(Array.from({ length: 4 }, (_, i) => post(server, '/v1/chat', { messages: [{ role: 'user', content: `${messages[0].content} (${i})` }], maxChars: 2000 })));
    const fourRate = four.reduce((sum, r) => sum + r.json.usage.completionTokens, 0) / ((performance.now() - started4) / 1000);
    report({ bench: 'chat.concurrent', chats: 4, tokensPerS: round(fourRate, 1), singleTokensPerS: round(singleRate, 1), ratio: round(fourRate / singleRate, 2), target: '>= 2.5 x single chat' });
  });
}

async function overhead(): Promise<void> {
  const texts = tweets(200);
  const raw = await RawLlama.open(values.tiny!, threads);
  const prompts = texts.map((text) => raw.render(sentimentPrompt.buildTurns({ text, labels: SENTIMENT_LABELS })));
  await raw.promptTimes(prompts.slice(0, 20));
  const rawP50 = percentile(await raw.promptTimes(prompts), 50);
  await raw.close();
  await withServer(values.tiny!, {}, async (server) => {
    for (const text of texts.slice(0, 20)) await post(server, '/v1/sentiment', { text });
    const times = [];
    for (const text of texts) times.push((await post(server, '/v1/sentiment', { text })).ms);
    report({ bench: 'overhead.tiny', requests: texts.length, serviceP50Ms: round(percentile(times, 50)), rawP50Ms: round(rawP50), overheadMs: round(percentile(times, 50) - rawP50), target: '<= 2 ms' });
  });
}

async function memory(): Promise<void> {
  await withServer(values.model!, {}, async (server) => {
    await post(server, '/v1/sentiment', { text: 'warm up' });
    await post(server, '/v1/chat', { messages: [{ role: 'user', content: 'hello' }] });
    const snapshot = (await (await fetch(`${server.url}/health/memory`)).json()) as { rssBytes: number; rssAnonBytes: number };
    const fileMiB = statSync(values.model!).size / 1048576;
    const rssMiB = snapshot.rssBytes / 1048576;
    report({ bench: 'memory.idle', rssMiB: round(rssMiB, 1), rssAnonMiB: round(snapshot.rssAnonBytes / 1048576, 1), modelFileMiB: round(fileMiB, 1), overFileMiB: round(rssMiB - fileMiB, 1), target: '<= 250 MiB over the model file' });
  });
}

const BENCHES: Record<string, () => Promise<void>> = { sentiment, chat, overhead, memory };
const selected = positionals.length ? positionals : Object.keys(BENCHES);
for (const name of selected) {
  if (!BENCHES[name]) throw new Error(`unknown benchmark ${name}: use ${Object.keys(BENCHES).join(', ')}`);
  await BENCHES[name]();
}
