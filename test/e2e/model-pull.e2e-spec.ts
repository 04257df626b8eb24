import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, IncomingHttpHeaders, RequestListener, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/server-process.js';
import { pullModel } from '../../src/model-pull/pull-model.js';
import { ModelPullError } from '../../src/modules/model/model.errors.js';
import { runTool } from '../support/system-tool.js';
import { TINY_MODEL } from '../support/test-app.js';

const model = readFileSync(TINY_MODEL);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const modelHash = sha256(model);

/** A self-signed certificate for 127.0.0.1, which child processes trust through NODE_EXTRA_CA_CERTS. */
function selfSignedCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'duet-tls-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  // prettier-ignore
  const run = runTool('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], 'openssl');
  if (run.status !== 0) throw new Error(`openssl could not make a certificate: ${run.stderr}`);
  return { key: readFileSync(key), cert: readFileSync(cert), certPath: cert };
}
const tls = selfSignedCertificate();

interface HostOptions {
  tls?: boolean;
  /** X-Linked-Etag on the first response (/resolve); null sends none. */
  linkedHash?: string | null;
  /** Where /resolve redirects; defaults to this host's /file. */
  redirectTo?: string;
  /** What /file serves, and the X-Linked-Etag it sends with it. */
  body?: Buffer;
  fileLinkedHash?: string;
  cutFirstTransferAt?: number;
}

/**
 * A Hugging Face-like file host on loopback: /resolve redirects with X-Linked-Etag to /file, which
 * honours Range as a real server does (416 from the end of the file on).
 */
function fileHost(options: HostOptions = {}) {
  const requests: IncomingHttpHeaders[] = [];
  const body = options.body ?? model;
  let transfers = 0;
  const handler: RequestListener = (req, res) => {
    requests.push(req.headers);
    if (req.url === '/resolve') {
      const linkedHash = options.linkedHash === undefined ? modelHash : options.linkedHash;
      res
        .writeHead(302, {
          location: options.redirectTo ?? '/file',
          ...(linkedHash === null ? {} : { 'x-linked-etag': `"${linkedHash}"` }),
        })
        .end();
      return;
    }
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const etag = options.fileLinkedHash ? { 'x-linked-etag': `"${options.fileLinkedHash}"` } : {};
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}`, ...etag }).end();
      return;
    }
    const rest = body.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': rest.length,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      ...etag,
    });
    if (transfers++ === 0 && options.cutFirstTransferAt) {
      res.write(rest.subarray(0, options.cutFirstTransferAt), () => res.destroy());
      return;
    }
    res.end(rest);
  };
  const server: Server = options.tls
    ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler)
    : createHttpServer(handler);
  let origin = '';
  return {
    requests,
    /** Listens and returns the origin, e.g. https://127.0.0.1:1234. */
    listen: async () => {
      const port = await freePort();
      await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
      origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      return origin;
    },
    get resolveUrl() {
      return `${origin}/resolve`;
    },
    close: () => new Promise((done) => server.close(done)),
  };
}

const destination = () => join(mkdtempSync(join(tmpdir(), 'duet-pull-')), 'models', 'model.gguf');

/** Runs `npm run model:pull`'s entry point, trusting the test certificate; the servers stay in this process. */
function pullCli(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [resolve('dist/model-pull/cli.js')], {
    env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: tls.certPath, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((done) => child.on('close', (status) => done({ status, stderr })));
}

describe('model pull over http (MODEL_ALLOW_HTTP)', () => {
  it('refuses plain http unless allowed, and even then takes no hash from it', async () => {
    const host = fileHost();
    await host.listen();
    const url = host.resolveUrl;
    const dest = destination();
    try {
      await expect(pullModel({ url, destination: dest })).rejects.toThrow(
        `Refusing to download ${url} over plain http: use an https URL, or on a trusted network set MODEL_ALLOW_HTTP=true and MODEL_SHA256.`,
      );
      expect(host.requests).toHaveLength(0);
      // The host's X-Linked-Etag is right, but anyone on the path could have written it.
      await expect(pullModel({ url, destination: dest, allowHttp: true })).rejects.toThrow(
        /^Cannot verify .*: no SHA-256 came with it \(an https origin's X-Linked-Etag\); set MODEL_SHA256\.$/,
      );
      expect(existsSync(dest)).toBe(false);
      await expect(pullModel({ url, destination: dest, allowHttp: true, sha256: modelHash })).resolves.toEqual({
        bytes: model.length,
        sha256: modelHash,
        resumedFrom: 0,
      });
      expect(readFileSync(dest).equals(model)).toBe(true);
      expect(existsSync(`${dest}.partial`)).toBe(false);
    } finally {
      await host.close();
    }
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    const host = fileHost({ cutFirstTransferAt: 3_000_000 });
    await host.listen();
    const pull = { url: host.resolveUrl, destination: destination(), allowHttp: true, sha256: modelHash };
    try {
      const error = await pullModel(pull).catch((e: ModelPullError) => e);
      expect(error).toMatchObject({ message: expect.stringMatching(/interrupted|ended early/), transient: true });
      expect(existsSync(pull.destination)).toBe(false);
      const kept = lstatSync(`${pull.destination}.partial`).size;
      expect(kept).toBeGreaterThan(0);
      const result = await pullModel(pull);
      expect(result.resumedFrom).toBe(kept);
      expect(host.requests[host.requests.length - 1].range).toBe(`bytes=${kept}-`);
      expect(readFileSync(pull.destination).equals(model)).toBe(true);
    } finally {
      await host.close();
    }
  });

  it.each([
    ['as long as the remote file', model],
    ['longer than the remote file', Buffer.concat([model, Buffer.from('junk')])],
  ])('discards a partial file %s (HTTP 416) and downloads again, saying so', async (_, partialContent) => {
    const host = fileHost();
    await host.listen();
    const dest = destination();
    mkdirSync(join(dest, '..'), { recursive: true });
    writeFileSync(`${dest}.partial`, partialContent);
    const notices: string[] = [];
    try {
      const pull = { url: host.resolveUrl, destination: dest, allowHttp: true, sha256: modelHash };
      const result = await pullModel({ ...pull, onNotice: (message) => notices.push(message) });
      expect(result).toEqual({ bytes: model.length, sha256: modelHash, resumedFrom: 0 });
      expect(readFileSync(dest).equals(model)).toBe(true);
      expect(notices).toEqual([
        `cannot resume ${dest}.partial at ${partialContent.length} bytes (HTTP 416); discarding it and downloading from the start`,
      ]);
    } finally {
      await host.close();
    }
  });

  it('replaces a symbolic link at the partial file or the destination instead of writing through it', async () => {
    const host = fileHost();
    await host.listen();
    const dest = destination();
    mkdirSync(join(dest, '..'), { recursive: true });
    const victims = [join(dest, '..', 'victim-1'), join(dest, '..', 'victim-2')];
    for (const victim of victims) writeFileSync(victim, 'must stay as it is');
    symlinkSync(victims[0], `${dest}.partial`);
    symlinkSync(victims[1], dest);
    const notices: string[] = [];
    try {
      const pull = { url: host.resolveUrl, destination: dest, allowHttp: true, sha256: modelHash };
      await pullModel({ ...pull, onNotice: (message) => notices.push(message) });
      for (const victim of victims) expect(readFileSync(victim, 'utf8')).toBe('must stay as it is');
      expect(lstatSync(dest).isFile()).toBe(true);
      expect(readFileSync(dest).equals(model)).toBe(true);
      expect(notices).toEqual([`${dest}.partial was a symbolic link; removed it, starting the download afresh`]);
      expect(host.requests.every((headers) => headers.range === undefined)).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('rejects a checksum mismatch and leaves nothing behind', async () => {
    const host = fileHost();
    await host.listen();
    const url = host.resolveUrl;
    const dest = destination();
    try {
      const error = await pullModel({ url, destination: dest, allowHttp: true, sha256: 'a'.repeat(64) }).catch(
        (e: ModelPullError) => e,
      );
      expect(error).toMatchObject({
        message: `Checksum mismatch for ${url}: expected ${'a'.repeat(64)}, got ${modelHash}; the download was discarded. Check MODEL_URL and MODEL_SHA256.`,
        transient: false,
      });
      expect(existsSync(dest)).toBe(false);
      expect(existsSync(`${dest}.partial`)).toBe(false);
    } finally {
      await host.close();
    }
  });
});

describe('model pull over https', () => {
  it('fails offline with one sentence saying how to supply a model, as a failure that may pass', async () => {
    const url = `https://127.0.0.1:${await freePort()}/model.gguf`;
    const error = await pullModel({ url, destination: destination() }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelPullError);
    expect((error as ModelPullError).transient).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Could not download the model from ${url} \\(.+\\): .*set MODEL_PATH to the file, or set MODEL_URL to a reachable mirror\\.$`,
      ),
    );
  });

  it("downloads through a redirect, checking the origin's X-Linked-Etag unless MODEL_SHA256 is set", async () => {
    const host = fileHost({ tls: true, linkedHash: 'b'.repeat(64) });
    await host.listen();
    const dest = destination();
    try {
      const mismatch = await pullCli({ MODEL_URL: host.resolveUrl, MODEL_PATH: dest });
      expect(mismatch).toEqual({
        status: 2,
        stderr: expect.stringContaining(`expected ${'b'.repeat(64)}, got ${modelHash}`),
      });
      const run = await pullCli({ MODEL_URL: host.resolveUrl, MODEL_PATH: dest, MODEL_SHA256: modelHash });
      expect(run).toEqual({ status: 0, stderr: expect.stringMatching(/download 100%.*\n.*model saved to/s) });
      expect(readFileSync(dest).equals(model)).toBe(true);
    } finally {
      await host.close();
    }
  });

  it.each([
    ['overrides the origin', modelHash, 2, `Checksum mismatch for`],
    ['is all there is', null, 2, `Cannot verify`],
  ])('takes no hash from a later hop, even when it %s', async (_, originHash, status, message) => {
    const tampered = Buffer.concat([model.subarray(0, 1000), Buffer.alloc(1000), model.subarray(2000)]);
    const host = fileHost({ tls: true, linkedHash: originHash, body: tampered, fileLinkedHash: sha256(tampered) });
    await host.listen();
    const dest = destination();
    try {
      const run = await pullCli({ MODEL_URL: host.resolveUrl, MODEL_PATH: dest });
      expect(run.status).toBe(status);
      expect(run.stderr).toContain(`duet: ${message} ${host.resolveUrl}`);
      expect(existsSync(dest)).toBe(false);
    } finally {
      await host.close();
    }
  });

  it('never follows a redirect from https to http, even with MODEL_ALLOW_HTTP=true', async () => {
    const plain = fileHost();
    const httpOrigin = await plain.listen();
    const host = fileHost({ tls: true, redirectTo: `${httpOrigin}/file` });
    await host.listen();
    const dest = destination();
    try {
      const run = await pullCli({ MODEL_URL: host.resolveUrl, MODEL_PATH: dest, MODEL_ALLOW_HTTP: 'true' });
      expect(run).toEqual({
        status: 2,
        stderr: `duet: Refusing ${host.resolveUrl}: it redirects from https to ${httpOrigin}; download the model by hand and set MODEL_PATH to it, or set MODEL_URL to an https mirror.\n`,
      });
      expect(plain.requests).toHaveLength(0);
      expect(existsSync(dest)).toBe(false);
    } finally {
      await Promise.all([host.close(), plain.close()]);
    }
  });

  it('runs on npm start when MODEL_PATH is unset and the default file is missing', async () => {
    const host = fileHost({ tls: true });
    await host.listen();
    const cwd = mkdtempSync(join(tmpdir(), 'duet-start-'));
    const port = await freePort();
    const child = spawn(process.execPath, [resolve('dist/main.js')], {
      cwd,
      env: {
        PATH: process.env.PATH,
        NODE_EXTRA_CA_CERTS: tls.certPath,
        MODEL_URL: host.resolveUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      },
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
