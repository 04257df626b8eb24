import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A free loopback port, picked by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** dist/main.js's environment: on loopback at `port`, as production runs it (MALLOC_ARENA_MAX=2). */
export function serviceEnvironment(modelPath: string, port: number, env: Record<string, string>) {
  return {
    PATH: process.env.PATH,
    MALLOC_ARENA_MAX: '2',
    MODEL_PATH: modelPath,
    HOST: '127.0.0.1',
    PORT: String(port),
    ...env,
  };
}

/** Starts the built entry point (dist/main.js) on loopback and waits until /health/ready is 200. */
export async function startServerProcess(
  modelPath: string,
  env: Record<string, string> = {},
  nodeOptions: string[] = [],
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeOptions, 'dist/main.js'], {
    env: serviceEnvironment(modelPath, port, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => stdout.push(...chunk.split('\n').filter(Boolean)));
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await fetch(`${url}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { url, child, stdout, stderr, exited };
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`server did not become ready: ${[...stdout.slice(-5), ...stderr].join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
