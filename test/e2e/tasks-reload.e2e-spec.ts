import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverPerSuite } from '../support/suite-server.js';

const dir = mkdtempSync(join(tmpdir(), 'duet-reload-'));
const TASKS_FILE = join(dir, 'tasks.yaml');
const withTask = (name: string, extra = '') =>
  `tasks:\n  - name: ${name}\n    kind: classify\n    instruction: Which kind of ticket is this?\n    labels: [question, complaint]\n${extra}`;
writeFileSync(TASKS_FILE, withTask('kind'));

describe('SIGHUP reloads TASKS_FILE without reloading the model', () => {
  const server = serverPerSuite({ TASKS_FILE, LOG_LEVEL: 'info', MEMORY_SNAPSHOT_INTERVAL_S: '0' });
  const taskNames = async () =>
    ((await (await fetch(`${server().url}/v1/tasks`)).json()) as { tasks: { name: string }[] }).tasks.map(
      (t) => t.name,
    );
  const logged = (event: string) =>
    server()
      .stdout.map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.event === event);
  const hangUp = async (event: string) => {
    const before = logged(event).length;
    server().child.kill('SIGHUP');
    for (let tries = 0; logged(event).length === before && tries < 100; tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return logged(event).at(-1);
  };

  it("serves the new file's tasks after a reload, on the same process and model", async () => {
    expect(await taskNames()).toEqual(['sentiment', 'chat', 'kind']);
    const loadedBefore = logged('model_loaded').length;
    writeFileSync(TASKS_FILE, withTask('topic'));
    expect(await hangUp('tasks_reloaded')).toMatchObject({
      tasks: ['sentiment:classify', 'chat:chat', 'topic:classify'],
    });
    expect(await taskNames()).toEqual(['sentiment', 'chat', 'topic']);
    const res = await fetch(`${server().url}/v1/classify/topic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Why was I charged twice?' }),
    });
    expect(res.status).toBe(200);
    expect(logged('model_loaded')).toHaveLength(loadedBefore);
  });

  it.each([
    ['an invalid file', () => withTask('Bad Name'), /tasks\[0\]\.name: use only lowercase letters/],
    [
      'a file needing longer sequences than were sized',
      () => withTask('long', '    maxInputTokens: 4096\n'),
      /needs sequences of 4352 tokens, sized at startup for 1280: restart to apply it/,
    ],
  ])('refuses %s: the running tasks stay and the log says why', async (_case, content, reason) => {
    const before = await taskNames();
    writeFileSync(TASKS_FILE, content());
    const refusal = await hangUp('tasks_reload_refused');
    expect(refusal?.reason).toMatch(reason);
    expect(refusal?.level).toBe('error');
    expect(await taskNames()).toEqual(before);
    expect(server().child.exitCode).toBeNull();
  });
});
