import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './server-process.js';

// llama.cpp's own tools as same-run anchors: llama-server (what a client would run instead of
// Duet) and llama-batched-bench (llama.cpp's batched speed limit). Built outside the repository;
// LLAMA_CPP_BIN names the directory holding them (and their shared libraries).

export type LlamaCppBin = { dir: string } | { skipped: string };

/** The directory from LLAMA_CPP_BIN if it holds both tools, else why the anchors are skipped. */
export function llamaCppBin(): LlamaCppBin {
  const dir = process.env.LLAMA_CPP_BIN;
  if (!dir) return { skipped: 'LLAMA_CPP_BIN is not set: llama.cpp anchors skipped' };
  const missing = ['llama-server', 'llama-batched-bench'].filter((tool) => !existsSync(join(dir, tool)));
  if (missing.length)
    return { skipped: `${missing.join(', ')} not in LLAMA_CPP_BIN=${dir}: llama.cpp anchors skipped` };
  return { dir };
}

const toolEnv = (dir: string) => ({
  ...process.env,
  LD_LIBRARY_PATH: [dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
});

export interface LlamaServer {
  url: string;
  stop(): Promise<void>;
}

/** llama-server as the issue sets it up (-t threads -c 4096 --parallel 4), ready when /health says so. */
export async function startLlamaServer(dir: string, modelPath: string, threads: number): Promise<LlamaServer> {
  const port = await freePort();
  const args = ['-m', modelPath, '-t', String(threads), '-c', '4096', '--parallel', '4'];
  const child = spawn(join(dir, 'llama-server'), [...args, '--host', '127.0.0.1', '--port', String(port)], {
    env: toolEnv(dir),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { url, stop: () => (child.kill('SIGTERM'), exited) };
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `llama-server did not become ready (${child.signalCode ?? child.exitCode}): ${log.join('').slice(-400)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface BatchedBenchRow {
  pp: number;
  tg: number;
  /** Parallel sequences. */
  pl: number;
  /** Generation tokens/s over all sequences. */
  speed_tg: number;
  /** Prompt and generation tokens/s over all sequences. */
  speed: number;
}

/** llama-batched-bench's rows; `unified` picks one KV stream for all sequences (-kvu) or one each (-no-kvu, as node-llama-cpp). */
export function batchedBench(
  dir: string,
  modelPath: string,
  threads: number,
  shape: { npp: number; ntg: number; npl: readonly number[]; unified: boolean },
): BatchedBenchRow[] {
  const args = ['-m', modelPath, '-t', String(threads), '-c', '4096', '--output-format', 'jsonl'];
  args.push('-npp', String(shape.npp), '-ntg', String(shape.ntg), '-npl', shape.npl.join(','));
  args.push(shape.unified ? '-kvu' : '-no-kvu');
  const run = spawnSync(join(dir, 'llama-batched-bench'), args, { env: toolEnv(dir), encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`llama-batched-bench failed (${run.signal ?? run.status}): ${run.stderr.slice(-400)}`);
  return run.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as BatchedBenchRow);
}
