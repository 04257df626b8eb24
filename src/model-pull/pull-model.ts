import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

export class ModelPullError extends Error {}

export interface PullProgress {
  (received: number, total: number | undefined): void;
}

export interface PullOptions {
  url: string;
  destination: string;
  /** Expected SHA-256; without it the server's X-Linked-Etag (Hugging Face's LFS hash) is used. */
  sha256?: string;
  onProgress?: PullProgress;
}

const SHA256 = /^[a-f0-9]{64}$/;
const MAX_REDIRECTS = 5;

/** Follows redirects by hand so the X-Linked-Etag of an intermediate hop (where Hugging Face puts the hash) is seen. */
async function request(url: string, offset: number): Promise<{ response: Response; linkedHash?: string }> {
  let linkedHash: string | undefined;
  let target = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await fetch(target, {
      redirect: 'manual',
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    });
    const etag = (response.headers.get('x-linked-etag') ?? '').replace(/"/g, '').toLowerCase();
    if (SHA256.test(etag)) linkedHash = etag;
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, linkedHash };
    await response.body?.cancel();
    target = new URL(location, target).toString();
  }
  throw new ModelPullError(`Too many redirects downloading ${url}.`);
}

async function hashFile(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Downloads a model file to `destination`: into `<destination>.partial` first, resuming a partial
 * file with an HTTP Range request, checking the SHA-256 of the whole file, then renaming it into
 * place (atomic on one filesystem), so `destination` is either absent or complete and verified.
 */
export async function pullModel(options: PullOptions): Promise<{ bytes: number; sha256: string; resumedFrom: number }> {
  const partial = `${options.destination}.partial`;
  mkdirSync(dirname(options.destination), { recursive: true });
  let offset = existsSync(partial) ? statSync(partial).size : 0;
  let reply: Awaited<ReturnType<typeof request>>;
  try {
    reply = await request(options.url, offset);
  } catch (error) {
    if (error instanceof ModelPullError) throw error;
    const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
    throw new ModelPullError(
      `Could not download the model from ${options.url} (${reason}): download it where the network allows and set MODEL_PATH to the file, or set MODEL_URL to a reachable mirror.`,
    );
  }
  const { response } = reply;
  if (response.status === 200)
    offset = 0; // no resume support: start over
  else if (response.status !== 206)
    throw new ModelPullError(`Downloading ${options.url} failed: HTTP ${response.status}.`);
  const expected = (options.sha256 ?? reply.linkedHash)?.toLowerCase();
  if (!expected) {
    await response.body?.cancel();
    throw new ModelPullError(
      `Cannot verify ${options.url}: the server sent no SHA-256 (X-Linked-Etag); set MODEL_SHA256.`,
    );
  }
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? offset + length : undefined;
  const hash = createHash('sha256');
  if (offset > 0) await hashFile(partial, hash);
  const file = openSync(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      writeSync(file, chunk);
      hash.update(chunk);
      received += chunk.length;
      options.onProgress?.(received, total);
    }
  } catch (error) {
    throw new ModelPullError(
      `Download of ${options.url} was interrupted at ${received} of ${total ?? '?'} bytes (${(error as Error).message}); run it again to resume.`,
    );
  } finally {
    closeSync(file);
  }
  if (total !== undefined && received < total) {
    throw new ModelPullError(
      `Download of ${options.url} ended early at ${received} of ${total} bytes; run it again to resume.`,
    );
  }
  const actual = hash.digest('hex');
  if (actual !== expected) {
    rmSync(partial, { force: true });
    throw new ModelPullError(
      `Checksum mismatch for ${options.url}: expected ${expected}, got ${actual}; the download was discarded. Check MODEL_URL and MODEL_SHA256.`,
    );
  }
  renameSync(partial, options.destination);
  return { bytes: received, sha256: actual, resumedFrom: offset };
}

/** A progress bar on a terminal; a line per 10% elsewhere (journal, CI logs). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr): PullProgress {
  const started = Date.now();
  let lastTenth = -1;
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  return (received, total) => {
    const fraction = total ? received / total : 0;
    const rate = received / Math.max(1, (Date.now() - started) / 1000);
    const figures = `${mib(received)}${total ? `/${mib(total)}` : ''} MiB ${mib(rate)} MiB/s`;
    if (stream.isTTY) {
      const filled = Math.round(fraction * 30);
      stream.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${figures}`,
      );
      if (total && received >= total) stream.write('\n');
    } else if (Math.floor(fraction * 10) > lastTenth) {
      lastTenth = Math.floor(fraction * 10);
      stream.write(`download ${lastTenth * 10}% ${figures}\n`);
    }
  };
}
