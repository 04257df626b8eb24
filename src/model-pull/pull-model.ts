import { createHash, type Hash } from 'node:crypto';
import { constants, mkdirSync, renameSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isTransientFailure } from '../runtime/transient-failure.js';
import type { AppConfig } from '../config/app-config.js';
import { ModelPullError } from '../modules/model/model.errors.js';

export interface PullProgress {
  (received: number, total: number | undefined): void;
}

export interface PullOptions {
  url: string;
  destination: string;
  /** Expected SHA-256; without it the X-Linked-Etag (Hugging Face's LFS hash) of the origin's own https response is used. */
  sha256?: string;
  /** Lets `url` be plain http (MODEL_ALLOW_HTTP); a redirect from https to http is refused all the same. */
  allowHttp?: boolean;
  onProgress?: PullProgress;
  /** Told when the pull does something on its own: discarding a partial file it cannot resume. */
  onNotice?: (message: string) => void;
}

const SHA256 = /^[a-f0-9]{64}$/;
const MAX_REDIRECTS = 5;
/** Readable by the service's own user, which may not be the one who downloaded it (DynamicUser=). */
const MODEL_FILE_MODE = 0o644;

/** Allows https, and http only when the operator opted in and no https hop came before it. */
function checkScheme(target: URL, previous: URL | undefined, url: string, allowHttp: boolean): void {
  if (target.protocol === 'https:') return;
  if (target.protocol === 'http:' && allowHttp && previous?.protocol !== 'https:') return;
  const fix = 'download the model by hand and set MODEL_PATH to it, or set MODEL_URL to an https mirror';
  if (previous?.protocol === 'https:')
    throw new ModelPullError(`Refusing ${url}: it redirects from https to ${target.protocol}//${target.host}; ${fix}.`);
  if (target.protocol === 'http:')
    throw new ModelPullError(
      `Refusing to download ${url} over plain http: use an https URL, or on a trusted network set MODEL_ALLOW_HTTP=true and MODEL_SHA256.`,
    );
  throw new ModelPullError(`Refusing ${url}: ${target.protocol} is not a download protocol; ${fix}.`);
}

/**
 * Follows redirects by hand, checking each hop's scheme, and keeps the X-Linked-Etag of the first
 * response only, when it came over https: that is the origin the operator named (Hugging Face puts
 * the hash there); a later hop (a CDN, or anyone a redirect points at) does not get to choose it.
 */
async function request(
  url: string,
  offset: number,
  allowHttp: boolean,
): Promise<{ response: Response; originHash?: string }> {
  let originHash: string | undefined;
  let target = new URL(url);
  let previous: URL | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    checkScheme(target, previous, url, allowHttp);
    const response = await fetch(target, {
      redirect: 'manual',
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    });
    const etag = (response.headers.get('x-linked-etag') ?? '').replace(/"/g, '').toLowerCase();
    if (hop === 0 && target.protocol === 'https:' && SHA256.test(etag)) originHash = etag;
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, originHash };
    await response.body?.cancel();
    previous = target;
    target = new URL(location, target);
  }
  throw new ModelPullError(`Too many redirects downloading ${url}.`);
}

/** `request`, with network failures as a ModelPullError saying what to do. */
async function requestModel(url: string, offset: number, allowHttp: boolean): ReturnType<typeof request> {
  try {
    return await request(url, offset, allowHttp);
  } catch (error) {
    if (error instanceof ModelPullError) throw error;
    const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
    throw new ModelPullError(
      `Could not download the model from ${url} (${reason}): download it where the network allows and set MODEL_PATH to the file, or set MODEL_URL to a reachable mirror.`,
      { transient: true },
    );
  }
}

/**
 * Opens `path` to append to, creating it and its folder if need be, without following a symbolic
 * link: a link planted there would make the service write to (and hash) whatever file it points at.
 * A link is removed and the download starts afresh.
 */
async function openPartial(path: string, onNotice: PullOptions['onNotice']): Promise<FileHandle> {
  const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
  let file: FileHandle;
  try {
    mkdirSync(dirname(path), { recursive: true });
    try {
      file = await open(path, flags, MODEL_FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
      rmSync(path);
      onNotice?.(`${path} was a symbolic link; removed it, starting the download afresh`);
      file = await open(path, flags | constants.O_EXCL, MODEL_FILE_MODE);
    }
  } catch (error) {
    throw new ModelPullError(`Cannot write the download to ${path}: ${(error as Error).message}.`, {
      transient: isTransientFailure(error),
    });
  }
  if (!(await file.stat()).isFile()) {
    await file.close();
    throw new ModelPullError(`${path} is not a regular file: remove it and run the download again.`);
  }
  return file;
}

/**
 * Asks for the rest of a partial file of `offset` bytes. 416 (the file is at or past the remote
 * file's end) or 200 (the server ignored the Range) mean it will never be extended: it is given up
 * for a download from the start rather than failing the same way at every start.
 */
async function requestRest(options: PullOptions, partial: string, offset: number) {
  const allowHttp = options.allowHttp ?? false;
  const reply = await requestModel(options.url, offset, allowHttp);
  const { status } = reply.response;
  if (offset === 0 || (status !== 416 && status !== 200)) return { ...reply, offset };
  options.onNotice?.(
    `cannot resume ${partial} at ${offset} bytes (HTTP ${status}); discarding it and downloading from the start`,
  );
  if (status === 200) return { ...reply, offset: 0 };
  await reply.response.body?.cancel();
  return { ...(await requestModel(options.url, 0, allowHttp)), offset: 0 };
}

/** Appends the response body to `file` and `hash`; returns the file's length after it. */
async function appendBody(file: FileHandle, response: Response, hash: Hash, offset: number, options: PullOptions) {
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? offset + length : undefined;
  let received = offset;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      hash.update(chunk);
      received += chunk.length;
      options.onProgress?.(received, total);
    }
  } catch (error) {
    throw new ModelPullError(
      `Download of ${options.url} was interrupted at ${received} of ${total ?? '?'} bytes (${(error as Error).message}); run it again to resume.`,
      { transient: true },
    );
  }
  if (total !== undefined && received < total) {
    throw new ModelPullError(
      `Download of ${options.url} ended early at ${received} of ${total} bytes; run it again to resume.`,
      { transient: true },
    );
  }
  return received;
}

/** Fills the open partial file and checks its SHA-256; a mismatch deletes it. */
async function download(file: FileHandle, partial: string, options: PullOptions) {
  const { response, originHash, offset } = await requestRest(options, partial, (await file.stat()).size);
  if (response.status !== (offset > 0 ? 206 : 200)) {
    await response.body?.cancel();
    throw new ModelPullError(`Downloading ${options.url} failed: HTTP ${response.status}.`, {
      transient: response.status >= 500 || response.status === 408 || response.status === 429,
    });
  }
  const expected = (options.sha256 ?? originHash)?.toLowerCase();
  if (!expected) {
    await response.body?.cancel();
    throw new ModelPullError(
      `Cannot verify ${options.url}: no SHA-256 came with it (an https origin's X-Linked-Etag); set MODEL_SHA256.`,
    );
  }
  const hash = createHash('sha256');
  if (offset > 0) for await (const chunk of file.createReadStream({ start: 0, autoClose: false })) hash.update(chunk);
  else await file.truncate(0);
  const bytes = await appendBody(file, response, hash, offset, options);
  const actual = hash.digest('hex');
  if (actual !== expected) {
    rmSync(partial, { force: true });
    throw new ModelPullError(
      `Checksum mismatch for ${options.url}: expected ${expected}, got ${actual}; the download was discarded. Check MODEL_URL and MODEL_SHA256.`,
    );
  }
  return { bytes, sha256: actual, resumedFrom: offset };
}

/**
 * Downloads a model file to `destination`: into `<destination>.partial` first, resuming a partial
 * file with an HTTP Range request, checking the SHA-256 of the whole file, then renaming it into
 * place (atomic on one filesystem; a symbolic link at `destination` is replaced, not written
 * through), so `destination` is either absent or complete and verified.
 */
export async function pullModel(options: PullOptions): Promise<{ bytes: number; sha256: string; resumedFrom: number }> {
  const partial = `${options.destination}.partial`;
  const file = await openPartial(partial, options.onNotice);
  try {
    const result = await download(file, partial, options);
    renameSync(partial, options.destination);
    return result;
  } finally {
    await file.close();
  }
}

/** Notices for the operator on standard error, where the progress goes too. */
export function noticeOnStderr(message: string): void {
  process.stderr.write(`duet: ${message}\n`);
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

/** Downloads the configured model (MODEL_URL to MODEL_PATH, checked against MODEL_SHA256), progress on stderr. */
export function pullConfiguredModel(config: AppConfig): ReturnType<typeof pullModel> {
  return pullModel({
    url: config.modelUrl,
    destination: config.modelPath,
    sha256: config.modelSha256,
    allowHttp: config.modelAllowHttp,
    onProgress: progressBar(),
    onNotice: noticeOnStderr,
  });
}
