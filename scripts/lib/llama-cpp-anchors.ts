// llama.cpp's own tools as same-run anchors for `npm run bench -- server chats`: llama-server (what
// a client would run instead of Duet) and llama-batched-bench (llama.cpp's own batched speed). Built
// outside the repository; LLAMA_SERVER_BIN and LLAMA_BATCHED_BENCH_BIN name the binaries.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { postJson } from './post-json.js';
import { freePort } from '../../test/support/server-process.js';
import { stop, untilHealthy } from './startup.js';

/**
 * The system turn of the plain prompt a user would send llama-server for sentiment alone (the text
 * as the user turn after it): the anchor issue 41 measured Duet's single classifications against.
 */
export const PLAIN_SENTIMENT_SYSTEM_PROMPT =
  'You are a sentiment classifier for customer messages, written in any language. ' +
  'Reply with exactly one word: positive, negative, neutral.';

export type LlamaCppTool = { binary: string } | { skipped: string };

/** The binary an environment variable names, or why the anchor that needs it is skipped. */
export function llamaCppTool(variable: 'LLAMA_SERVER_BIN' | 'LLAMA_BATCHED_BENCH_BIN'): LlamaCppTool {
  const binary = process.env[variable];
  if (!binary) return { skipped: `${variable} is not set: llama.cpp anchor skipped` };
  if (!existsSync(binary)) return { skipped: `${variable}=${binary} does not exist: llama.cpp anchor skipped` };
  return { binary };
}

/** A build with shared libraries keeps them beside its binaries. */
const toolEnv = (binary: string) => ({
  ...process.env,
  LD_LIBRARY_PATH: [dirname(binary), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
});

export interface LlamaServer {
  url: string;
  /** Whether its slots share one KV stream, from its own log line; undefined if it did not say. */
  kvUnified?: boolean;
  /** The tokens /completion evaluates for this prompt text (special tokens parsed, as it does). */
  tokenize(content: string): Promise<number[]>;
  /** One classification's worth: the prompt (text, or token ids), `predict` tokens (default 2) greedily, prompt cache on. */
  complete(prompt: string | readonly number[], predict?: number): Promise<void>;
  stop(): Promise<void>;
}

/** llama-server as issue 31 sets it up (-t threads -c 4096 --parallel 4, no RAM prompt cache) on loopback, once /health answers 200. */
export async function startLlamaServer(binary: string, modelPath: string, threads: number): Promise<LlamaServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // --cache-ram 0: newer builds keep evaluated prompts in RAM across slots (8 GiB by default), so the
  // benchmark's repeated texts would be restored, not evaluated; Duet evaluates every request afresh.
  const args = ['-m', modelPath, '-t', String(threads), '-c', '4096', '--parallel', '4', '--cache-ram', '0'];
  const child = spawn(binary, [...args, '--host', '127.0.0.1', '--port', String(port)], {
    env: toolEnv(binary),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (chunk) => (log += chunk));
  try {
    await untilHealthy(`${url}/health`, child, performance.now());
  } catch (error) {
    await stop(child);
    throw new Error(`llama-server did not start: ${(error as Error).message}: ${log.slice(-400)}`, { cause: error });
  }
  const unified = /kv_unified = '(true|false)'/.exec(log)?.[1];
  const post = async (path: string, body: object) => {
    const reply = await postJson(url, path, body);
    if (reply.status !== 200) throw new Error(`llama-server ${path}: ${reply.status} ${JSON.stringify(reply.json)}`);
    return reply.json;
  };
  return {
    url,
    kvUnified: unified === undefined ? undefined : unified === 'true',
    tokenize: async (content) =>
      (await post('/tokenize', { content, add_special: true, parse_special: true })).tokens as number[],
    complete: async (prompt, predict = 2) =>
      void (await post('/completion', { prompt, n_predict: predict, temperature: 0, cache_prompt: true })),
    stop: () => stop(child),
  };
}

export interface BatchedBenchRow {
  pp: number;
  tg: number;
  /** Parallel sequences. */
  pl: number;
  /** Generation tokens/s over all sequences. */
  speed_tg: number;
  /** Prompt and generation tokens/s over all sequences, from the first prompt token to the last generated. */
  speed: number;
}

/**
 * llama-batched-bench's rows for one shape; `unified` gives all sequences one KV stream (-kvu) or
 * each its own (-no-kvu, as node-llama-cpp runs them).
 */
export function batchedBench(
  binary: string,
  modelPath: string,
  threads: number,
  shape: { npp: number; ntg: number; npl: readonly number[]; unified: boolean },
): BatchedBenchRow[] {
  const args = ['-m', modelPath, '-t', String(threads), '-c', '4096', '--output-format', 'jsonl'];
  args.push('-npp', String(shape.npp), '-ntg', String(shape.ntg), '-npl', shape.npl.join(','));
  args.push(shape.unified ? '-kvu' : '-no-kvu');
  const run = spawnSync(binary, args, { env: toolEnv(binary), encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`llama-batched-bench failed (${run.signal ?? run.status}): ${run.stderr.slice(-400)}`);
  return `${run.stdout}\n${run.stderr}`
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BatchedBenchRow);
}
