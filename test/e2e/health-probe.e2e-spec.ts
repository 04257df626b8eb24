import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { freePort } from '../support/server-process.js';
import { startTestApp, TestApp } from '../support/test-app.js';

/** Runs the built probe (dist/health-probe.js) the way the HEALTHCHECK and Kubernetes do; resolves its exit code. */
const probe = (path: string, env: Record<string, string>) =>
  new Promise<number | null>((resolve) => {
    const child = execFile(process.execPath, ['dist/health-probe.js', path], {
      env: { PATH: process.env.PATH, ...env },
    });
    child.on('exit', (code) => resolve(code));
  });

describe('container health probe', () => {
  let t: TestApp;
  let port: string;
  beforeAll(async () => {
    t = await startTestApp({ OPS_API_KEYS: 'ops-1, ops-2' }, { load: false });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = String((t.app.getHttpServer().address() as AddressInfo).port);
  });
  afterAll(() => t.close());

  it('authenticates with the first OPS_API_KEYS key', async () => {
    expect(await probe('/health/live', { PORT: port, OPS_API_KEYS: 'ops-1, ops-2' })).toBe(0);
    expect(await probe('/health/live', { PORT: port })).toBe(1); // 401 without a key
    expect(await probe('/health/live', { PORT: port, OPS_API_KEYS: 'wrong' })).toBe(1);
  });

  it('fails while the model loads and passes once it is ready', async () => {
    const env = { PORT: port, OPS_API_KEYS: 'ops-2' };
    expect(await probe('/health/ready', env)).toBe(1);
    await t.models.load();
    expect(await probe('/health/ready', env)).toBe(0);
  });

  it('fails when nothing answers', async () => {
    expect(await probe('/health/live', { PORT: String(await freePort()) })).toBe(1);
  });
});
