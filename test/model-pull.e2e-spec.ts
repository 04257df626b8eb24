import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../scripts/lib/server-process.js';
import { ModelPullError, pullModel } from '../src/model-pull/pull-model.js';
import { TINY_MODEL } from './support/test-app.js';

const model = readFileSync(TINY_MODEL);
const modelHash = createHash('sha256').update(model).digest('hex');

/** A Hugging Face-like file host on loopback: /resolve redirects with X-Linked-Etag to /file, which honours Range. */
function fileHost(options: { cutFirstTransferAt?: number; linkedHash?: string } = {}) {
  const requests: IncomingHttpHeaders[] = [];
  let transfers = 0;
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    if (req.url === '/resolve') {
      res.writeHead(302, { location: '/file', 'x-linked-etag': `"${options.linkedHash ?? modelHash}"` }).end();
      return;
    }
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const body = model.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${model.length - 1}/${model.length}` } : {}),
    });
    if (transfers++ === 0 && options.cutFirstTransferAt) {
      res.write(body.subarray(0, options.cutFirstTransferAt), () => res.destroy());
      return;
    }
    res.end(body);
  });
  return {
    requests,
    listen: async () => {
      const port = await freePort();
      await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
      return `http://127.0.0.1:${port}/resolve`;
    },
    close: () => new Promise((done) => server.close(done)),
  };
}

const destination = () => join(mkdtempSync(join(tmpdir(), 'duet-pull-')), 'models', 'model.gguf');

describe('model pull', () => {
  it('downloads through a redirect, checks the SHA-256 from X-Linked-Etag and renames into place', async () => {
    const host = fileHost();
    const url = await host.listen();
    const dest = destination();
    const progress: number[] = [];
    try {
      const result = await pullModel({ url, destination: dest, onProgress: (received) => progress.push(received) });
      expect(result).toEqual({ bytes: model.length, sha256: modelHash, resumedFrom: 0 });
      expect(readFileSync(dest).equals(model)).toBe(true);
      expect(existsSync(`${dest}.partial`)).toBe(false);
      expect(progress[progress.length - 1]).toBe(model.length);
    } finally {
      await host.close();
    }
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    const host = fileHost({ cutFirstTransferAt: 3_000_000 });
    const url = await host.listen();
    const dest = destination();
    try {
      await expect(pullModel({ url, destination: dest })).rejects.toThrow(
        /interrupted|ended early.*run it again to resume/,
      );
      expect(existsSync(dest)).toBe(false);
      const kept = statSync(`${dest}.partial`).size;
      expect(kept).toBeGreaterThan(0);
      const result = await pullModel({ url, destination: dest });
      expect(result.resumedFrom).toBe(kept);
      expect(host.requests[host.requests.length - 1].range).toBe(`bytes=${kept}-`);
      expect(readFileSync(dest).equals(model)).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('rejects a checksum mismatch and leaves nothing behind', async () => {
    const host = fileHost({ linkedHash: 'a'.repeat(64) });
    const url = await host.listen();
    const dest = destination();
    try {
      await expect(pullModel({ url, destination: dest })).rejects.toThrow(
        `Checksum mismatch for ${url}: expected ${'a'.repeat(64)}, got ${modelHash}`,
      );
      expect(existsSync(dest)).toBe(false);
      expect(existsSync(`${dest}.partial`)).toBe(false);
      // MODEL_SHA256 takes precedence over the header.
      await expect(pullModel({ url, destination: dest, sha256: modelHash })).resolves.toMatchObject({
        sha256: modelHash,
      });
    } finally {
      await host.close();
    }
  });

  it('fails offline with one sentence saying how to supply a model', async () => {
    const url = `http://127.0.0.1:${await freePort()}/model.gguf`;
    const error = await pullModel({ url, destination: destination() }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelPullError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Could not download the model from ${url} \\(.+\\): .*set MODEL_PATH to the file, or set MODEL_URL to a reachable mirror\\.$`,
      ),
    );
  });

  it('runs on npm start when MODEL_PATH is unset and the default file is missing', async () => {
    const host = fileHost();
    const url = await host.listen();
    const cwd = mkdtempSync(join(tmpdir(), 'duet-start-'));
    const port = await freePort();
    const child = spawn(process.execPath, [resolve('dist/main.js')], {
      cwd,
      env: { PATH: process.env.PATH, MODEL_URL: url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      let ready = false;
      for (let i = 0; i < 300 && !ready; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((done) => setTimeout(done, 100));
      }
      expect(ready).toBe(true);
      expect(readFileSync(join(cwd, 'models', 'qwen2.5-0.5b-instruct-q4_k_m.gguf')).equals(model)).toBe(true);
      expect(stderr).toMatch(/no model at .*; downloading/);
      expect(stderr).toMatch(/download 100%/);
    } finally {
      child.kill('SIGTERM');
      await host.close();
    }
  });
});
