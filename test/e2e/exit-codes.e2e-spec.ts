import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/server-process.js';
import { TINY_MODEL } from '../support/test-app.js';

/**
 * dist/main.js started as systemd would; `limits` runs first in the shell that execs it.
 * The unit's RestartPreventExitStatus=2 keeps the service down on 2 and restarts it on 1.
 */
function start(env: Record<string, string>, options: { cwd?: string; limits?: string } = {}) {
  const run = spawnSync(
    'bash',
    ['-c', `${options.limits ?? 'true'} && exec "$0" "$1"`, process.execPath, resolve('dist/main.js')],
    {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, MALLOC_ARENA_MAX: '2', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
      encoding: 'utf8',
      timeout: 30000,
    },
  );
  return {
    status: run.status,
    errorLines: run.stderr.split('\n').filter((line) => line.startsWith('duet: ')),
    stackTrace: /\n\s+at /.test(run.stderr),
  };
}

const scratch = () => mkdtempSync(join(tmpdir(), 'duet-exit-'));

describe('exit codes of a failed start', () => {
  it('is 2, with one line, for a model file that is not GGUF', () => {
    const path = join(scratch(), 'not-a-model.gguf');
    writeFileSync(path, 'this is a text file, not a model\n'.repeat(100));
    expect(start({ MODEL_PATH: path })).toEqual({
      status: 2,
      errorLines: [expect.stringMatching(/^duet: Could not load model .*not-a-model\.gguf: Invalid GGUF magic/)],
      stackTrace: false,
    });
  });

  it('is 2 for a directory given as the model file', () => {
    const path = join(scratch(), 'folder.gguf');
    mkdirSync(path);
    expect(start({ MODEL_PATH: path })).toEqual({
      status: 2,
      errorLines: [expect.stringMatching(/^duet: Could not load model .*folder\.gguf: EISDIR/)],
      stackTrace: false,
    });
  });

  it('is 2 for an invalid MODEL_ALLOW_HTTP', () => {
    expect(start({ MODEL_PATH: TINY_MODEL, MODEL_ALLOW_HTTP: 'maybe' })).toEqual({
      status: 2,
      errorLines: [expect.stringMatching(/^duet: Invalid configuration: MODEL_ALLOW_HTTP="maybe"/)],
      stackTrace: false,
    });
  });

  it('is 2 when the default model would be downloaded over plain http without MODEL_ALLOW_HTTP', async () => {
    const url = `http://127.0.0.1:${await freePort()}/model.gguf`;
    expect(start({ MODEL_URL: url }, { cwd: scratch() })).toEqual({
      status: 2,
      errorLines: [
        expect.stringMatching(/^duet: no model at .*; downloading/),
        `duet: Refusing to download ${url} over plain http: use an https URL, or on a trusted network set MODEL_ALLOW_HTTP=true and MODEL_SHA256.`,
      ],
      stackTrace: false,
    });
  });

  it('is 1 when the download of the default model cannot connect', async () => {
    const url = `https://127.0.0.1:${await freePort()}/model.gguf`;
    expect(start({ MODEL_URL: url }, { cwd: scratch() })).toEqual({
      status: 1,
      errorLines: [
        expect.stringMatching(/^duet: no model at .*; downloading/),
        expect.stringMatching(/^duet: Could not download the model from /),
      ],
      stackTrace: false,
    });
  });

  it('is 1 when loading runs out of memory', () => {
    // Node itself needs under 1 GB of address space here; 8 sequences of 8192-token batches make
    // llama.cpp ask for a 4.7 GB compute buffer, which a 1.9 GB limit refuses.
    const run = start(
      { MODEL_PATH: TINY_MODEL, THREADS: '1', SEQUENCES: '8', BATCH_SIZE: '8192' },
      { limits: 'ulimit -v 2000000' },
    );
    expect(run).toEqual({
      status: 1,
      errorLines: [expect.stringMatching(/^duet: Could not load model .*: Failed to create context \(.*memory.*\)$/)],
      stackTrace: false,
    });
  });
});
