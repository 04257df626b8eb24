// Startup measurements for `npm run bench:startup`: Duet's dist/main.js and llama-server, each
// started and stopped several times on the same model in the same run.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_BATCH_SIZE } from '../../src/config/environment.js';
import { postJson } from './post-json.js';
import { percentile } from './raw-llama.js';
import { freePort, serviceEnvironment } from '../../test/support/server-process.js';

/** Requests timed after ready, per task: the first, then these many more for the warm p50. */
const WARM_REPEATS = 7;
const POLL_MS = 10;

interface TaskRequest {
  task: string;
  path: string;
  body: object;
}

/** One start of dist/main.js: when each log line first arrived, from spawn; first and warm request times per task. */
export interface DuetStart {
  firstLogMs: number;
  listeningMs: number;
  modelLoadedMs: number;
  readyMs: number;
  phasesMs: Record<string, number>;
  warmUpMs: Record<string, number>;
  firstRequestMs: Record<string, number>;
  warmP50Ms: Record<string, number>;
  idleRssMiB: number;
  /** As the service sized them, for llama-server's like-for-like start. */
  sequences: number;
  sequenceContextSize: number;
}

export async function untilHealthy(url: string, child: ChildProcess, started: number): Promise<number> {
  for (;;) {
    const ok = await fetch(url).then(
      (reply) => reply.status === 200,
      () => false,
    );
    if (ok) return performance.now() - started;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the process ended before ${url} answered 200 (${child.signalCode ?? `exit ${child.exitCode}`})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Each served task's default request, and the built-in sentiment task with two labels (a label subset). */
async function taskRequests(url: string): Promise<TaskRequest[]> {
  const { tasks } = (await (await fetch(`${url}/v1/tasks`)).json()) as { tasks: { name: string; kind: string }[] };
  const text = 'The parcel came two days late and the box was crushed.';
  const requests: TaskRequest[] = tasks.map(({ name, kind }) =>
    kind === 'chat'
      ? { task: name, path: `/v1/chat/${name}`, body: { messages: [{ role: 'user', content: 'Where is my parcel?' }] } }
      : { task: name, path: `/v1/classify/${name}`, body: { text } },
  );
  if (tasks.some((task) => task.name === 'sentiment'))
    requests.push({
      task: 'sentiment(2 labels)',
      path: '/v1/sentiment',
      body: { text, labels: ['positive', 'negative'] },
    });
  return requests;
}

export async function startDuet(modelPath: string, env: Record<string, string>): Promise<DuetStart> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: serviceEnvironment(modelPath, port, { LOG_LEVEL: 'info', MEMORY_SNAPSHOT_INTERVAL_S: '0', ...env }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const arrived: Record<string, number> = {};
  const events: Record<string, unknown>[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const now = performance.now() - started;
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      events.push(entry);
      arrived.first ??= now;
      if (typeof entry.event === 'string') arrived[entry.event] ??= now;
    }
  });
  try {
    const readyMs = await untilHealthy(`${url}/health/ready`, child, started);
    const idleRssMiB = rssMiB(child.pid!);
    const loaded = events.find((entry) => entry.event === 'model_loaded') as {
      loadPhasesMs?: Record<string, number>;
      sequences: number;
      sequenceContextSize: number;
    };
    const warmUpMs = Object.fromEntries(
      events
        .filter((entry) => entry.event === 'task_warmed')
        .map((entry) => [entry.task as string, entry.ms as number]),
    );
    const firstRequestMs: Record<string, number> = {};
    const warmP50Ms: Record<string, number> = {};
    const requests = await taskRequests(url);
    for (const request of requests) firstRequestMs[request.task] = await timed(url, request);
    for (const request of requests) {
      const times = [];
      for (let i = 0; i < WARM_REPEATS; i++) times.push(await timed(url, request));
      warmP50Ms[request.task] = percentile(times, 50);
    }
    return {
      firstLogMs: arrived.first,
      listeningMs: arrived.listening,
      modelLoadedMs: arrived.model_loaded,
      readyMs,
      phasesMs: loaded.loadPhasesMs ?? {},
      warmUpMs,
      firstRequestMs,
      warmP50Ms,
      idleRssMiB,
      sequences: loaded.sequences,
      sequenceContextSize: loaded.sequenceContextSize,
    };
  } finally {
    await stop(child);
  }
}

async function timed(url: string, { path, body }: TaskRequest): Promise<number> {
  const reply = await postJson(url, path, body);
  if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${JSON.stringify(reply.json)}`);
  return reply.ms;
}

/**
 * llama-server's own flag for loading without mmap: `--no-mmap` in most builds, `--load-mode none`
 * in those that replaced it.
 */
function noMmapArgs(binary: string): string[] {
  const help = execFileSync(binary, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return help.includes('--no-mmap') ? ['--no-mmap'] : ['--load-mode', 'none'];
}

/**
 * From spawn to llama-server's /health answering 200 (it answers 503 while loading), with the same
 * threads and per-sequence context as Duet; undefined when LLAMA_SERVER_BIN is unset or missing.
 */
export async function llamaServerStarts(
  modelPath: string,
  options: { threads: number; contextSize: number; sequences: number; restarts: number },
): Promise<{ mmapMs: number[]; noMmapMs: number[]; noMmapArgs: string[] } | string> {
  const binary = process.env.LLAMA_SERVER_BIN;
  if (!binary) return 'LLAMA_SERVER_BIN is not set: llama-server comparison skipped';
  if (!existsSync(binary)) return `LLAMA_SERVER_BIN=${binary} does not exist: llama-server comparison skipped`;
  const withoutMmap = noMmapArgs(binary);
  const once = async (extra: string[]) => {
    const port = await freePort();
    const started = performance.now();
    const child = spawn(
      binary,
      [
        ...['-m', modelPath, '--host', '127.0.0.1', '--port', String(port), '-t', String(options.threads)],
        ...['-c', String(options.contextSize * options.sequences), '-np', String(options.sequences)],
        ...extra,
      ],
      { stdio: 'ignore' },
    );
    try {
      return await untilHealthy(`http://127.0.0.1:${port}/health`, child, started);
    } finally {
      await stop(child);
    }
  };
  const mmapMs: number[] = [];
  const noMmapMs: number[] = [];
  try {
    for (let i = 0; i < options.restarts; i++) {
      mmapMs.push(await once([]));
      noMmapMs.push(await once(withoutMmap));
    }
  } catch (error) {
    return `llama-server (${binary}) did not start: ${(error as Error).message}: comparison skipped`;
  }
  return { mmapMs, noMmapMs, noMmapArgs: withoutMmap };
}

/**
 * node-llama-cpp's own floor, from spawn: a bare Node process that imports it, calls getLlama (its
 * prebuilt binary is tested in a child process first on Linux), loads the weights without mmap and
 * creates a context sized like Duet's (default batch size), with nothing else. Duet's start cannot be shorter than this
 * plus its tasks' warm-up.
 */
export async function nodeLlamaCppStarts(
  modelPath: string,
  options: { threads: number; contextSize: number; sequences: number; restarts: number },
): Promise<{ readyMs: number[]; phasesMs: Record<string, number>[] }> {
  const script = `
    const started = performance.now();
    const { getLlama, LlamaLogLevel } = await import(${JSON.stringify(import.meta.resolve('node-llama-cpp'))});
    const imported = performance.now();
    const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, maxThreads: ${options.threads}, logLevel: LlamaLogLevel.error });
    const runtime = performance.now();
    const model = await llama.loadModel({ modelPath: ${JSON.stringify(modelPath)}, useMmap: false });
    const weights = performance.now();
    await model.createContext({ sequences: ${options.sequences}, contextSize: ${options.contextSize}, batchSize: ${DEFAULT_BATCH_SIZE}, threads: ${options.threads} });
    const context = performance.now();
    const ms = (a, b) => Math.round(b - a);
    process.stdout.write(JSON.stringify({ import: ms(started, imported), runtime: ms(imported, runtime), weights: ms(runtime, weights), context: ms(weights, context) }) + '\\n');
  `;
  // A file, not `node -e`: node-llama-cpp's binary test re-runs node with the parent's arguments.
  const scriptPath = join(mkdtempSync(join(tmpdir(), 'duet-bare-load-')), 'load.mjs');
  writeFileSync(scriptPath, script);
  const readyMs: number[] = [];
  const phasesMs: Record<string, number>[] = [];
  for (let i = 0; i < options.restarts; i++) {
    const started = performance.now();
    const child = spawn(process.execPath, [scriptPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').once('data', (chunk: string) => resolve(chunk));
      child.once('exit', (code) => reject(new Error(`the bare node-llama-cpp load exited with ${code}`)));
    });
    readyMs.push(performance.now() - started);
    phasesMs.push(JSON.parse(line) as Record<string, number>);
    await stop(child);
  }
  rmSync(dirname(scriptPath), { recursive: true });
  return { readyMs, phasesMs };
}
