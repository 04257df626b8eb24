import { ServerProcess, startServerProcess } from './server-process.js';
import { TINY_MODEL } from './test-app.js';

/** One real server process (dist/main.js on the tiny model) for the enclosing describe block. */
export function serverPerSuite(env: Record<string, string>): () => ServerProcess {
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    server = await startServerProcess(TINY_MODEL, env);
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
  });
  return () => server!;
}
