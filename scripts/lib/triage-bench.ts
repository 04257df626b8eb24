import { join } from 'node:path';
import { median } from './eval-metrics.js';
import { postJson } from './post-json.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { DEV_DATA_DIR, loadDevSets } from './dev-sets.js';

/** The triage fixture: sentiment plus two operator tasks (urgency with described labels, department). */
export const TRIAGE_TASKS_FILE = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tasks', 'triage.yaml');
const CLASSIFY_TASKS = ['sentiment', 'urgency', 'department'];

async function timed(server: ServerProcess, path: string, body: object): Promise<number> {
  const reply = await postJson(server.url, path, body);
  if (reply.status !== 200) throw new Error(`${path}: ${reply.status} ${JSON.stringify(reply.json)}`);
  return reply.ms;
}

export interface TriageFigures {
  set: string;
  texts: number;
  triageP50Ms: number;
  threeSinglesP50Ms: number;
  oneSingleP50Ms: number;
  /** Triage against the three single-task calls made one after another (target <= 0.6 on the hotel reviews). */
  ratioToThreeSingles: number;
  ratioToOneSingle: number;
}

/**
 * One text's latencies, each the median over `passes`: triage of the three tasks, the three
 * single-task calls one after another, and one single call (sentiment). Per text the order of the
 * two sides alternates, so the VM's drift falls on both alike.
 */
async function measureText(server: ServerProcess, text: string, passes: number, flip: boolean) {
  const triage: number[] = [];
  const three: number[] = [];
  const one: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const singles = async () => {
      const times = [];
      for (const task of CLASSIFY_TASKS) times.push(await timed(server, `/v1/classify/${task}`, { text }));
      three.push(times.reduce((a, b) => a + b, 0));
      one.push(times[0]);
    };
    const together = async () => triage.push(await timed(server, '/v1/triage', { text, tasks: CLASSIFY_TASKS }));
    if ((pass % 2 === 0) !== flip) {
      await together();
      await singles();
    } else {
      await singles();
      await together();
    }
  }
  return { triage: median(triage), three: median(three), one: median(one) };
}

/** Triage against single-task calls on each dev set's first `textsPerSet` texts, one server, one run. */
export async function triageBench(modelPath: string, textsPerSet: number, passes = 3): Promise<TriageFigures[]> {
  const sets = loadDevSets(DEV_DATA_DIR, textsPerSet).filter((set) => /zh-hotel|en-airline/.test(set.name));
  const server = await startServerProcess(modelPath, {
    LOG_LEVEL: 'warn',
    MEMORY_SNAPSHOT_INTERVAL_S: '0',
    TASKS_FILE: TRIAGE_TASKS_FILE,
  });
  try {
    // Warm every task's prefix and label vocabulary before timing.
    for (const task of CLASSIFY_TASKS) await timed(server, `/v1/classify/${task}`, { text: 'warm-up' });
    const figures: TriageFigures[] = [];
    for (const set of sets) {
      const perText = [];
      for (const [i, { text }] of set.rows.entries())
        perText.push(await measureText(server, text, passes, i % 2 === 1));
      const triageP50Ms = median(perText.map((t) => t.triage));
      const threeSinglesP50Ms = median(perText.map((t) => t.three));
      const oneSingleP50Ms = median(perText.map((t) => t.one));
      figures.push({
        set: set.name,
        texts: set.rows.length,
        triageP50Ms,
        threeSinglesP50Ms,
        oneSingleP50Ms,
        ratioToThreeSingles: triageP50Ms / threeSinglesP50Ms,
        ratioToOneSingle: triageP50Ms / oneSingleP50Ms,
      });
    }
    return figures;
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}
