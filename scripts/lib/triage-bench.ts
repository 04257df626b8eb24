import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { parse, stringify } from 'yaml';
import { ChatMlTemplate, chatMlTemplate } from '../../src/modules/model/tokens/chatml.js';
import { answerQuestions, type TokenizedQuestion } from '../../src/modules/model/classification/answer-questions.js';
import { LabelVocabulary } from '../../src/modules/model/classification/label-scoring.js';
import { TokenBytes } from '../../src/modules/model/tokens/token-bytes.js';
import { CLASSIFIER_SYSTEM_PROMPT, classifyQuestion, MESSAGE_LEAD, QUESTION_LEAD } from '../../src/prompts/layouts.js';
import type { ClassifyLayout, ClassifyTask } from '../../src/prompts/task-definitions.js';
import { loadTasks } from '../../src/prompts/tasks-file.js';
import { median } from './eval-metrics.js';
import { postJson } from './post-json.js';
import { RawLlama } from './raw-llama.js';
import { startServerProcess, type ServerProcess } from '../../test/support/server-process.js';
import { DEV_DATA_DIR, loadDevSets } from '../../test/support/dev-sets.js';

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
  sentimentLayout: ClassifyLayout;
  texts: number;
  triageP50Ms: number;
  threeSinglesP50Ms: number;
  oneSingleP50Ms: number;
  /** Triage against the three single-task calls made one after another (target <= 0.6 on the hotel reviews). */
  ratioToThreeSingles: number;
  ratioToOneSingle: number;
  /**
   * The same evaluations on node-llama-cpp alone, in the benchmark's process (Duet's label scoring,
   * no service): the text once and each question after it, against the text three times. Measured
   * with every task text-first only (else undefined).
   */
  floor?: { triageP50Ms: number; threeSinglesP50Ms: number; ratioToThreeSingles: number };
}

/** Times the model layer's evaluation of a text under the three tasks, with no service around it. */
class TriageFloor {
  private readonly template: ChatMlTemplate;
  private readonly vocabulary: LabelVocabulary;

  private constructor(
    private readonly raw: RawLlama,
    private readonly tasks: readonly ClassifyTask[],
  ) {
    this.template = chatMlTemplate(raw.model);
    this.vocabulary = new LabelVocabulary(raw.model, TokenBytes.fromVocabulary(raw.model));
  }

  static async open(modelPath: string, threads: number): Promise<TriageFloor> {
    const tasks = loadTasks({ file: TRIAGE_TASKS_FILE });
    const asked = CLASSIFY_TASKS.map((name) => tasks.find((task) => task.name === name) as ClassifyTask);
    return new TriageFloor(await RawLlama.open(modelPath, threads), asked);
  }

  /** A text's tokens (with the trail) and each task's question, as the service renders them. */
  private prompts(text: string): { text: readonly Token[]; questions: TokenizedQuestion[] } {
    return {
      text: this.template.classificationText(text, QUESTION_LEAD),
      questions: this.tasks.map((task) => ({
        tokens: this.template.classificationQuestion(classifyQuestion(task, task.labels)),
        labels: task.labels.map((label) => label.name),
      })),
    };
  }

  /** Runs `run` with a sequence holding the classification start, as an idle service sequence does. */
  async onSequence(run: (sequence: LlamaContextSequence) => Promise<void>): Promise<void> {
    const prefix = this.template.classificationStart(CLASSIFIER_SYSTEM_PROMPT, MESSAGE_LEAD);
    await this.raw.onCachedSequences({ tokens: [...prefix], prefixLength: prefix.length }, 1, ([sequence]) =>
      run(sequence),
    );
  }

  /** Milliseconds for the text with all three questions, and for the three texts each with one. */
  async time(sequence: LlamaContextSequence, text: string): Promise<{ triage: number; three: number }> {
    const { text: tokens, questions } = this.prompts(text);
    const unlocked = async () => () => {};
    const timed = async (asked: TokenizedQuestion[]) => {
      const started = performance.now();
      await answerQuestions(sequence, tokens, asked, this.vocabulary, unlocked);
      return performance.now() - started;
    };
    const triage = await timed(questions);
    let three = 0;
    for (const question of questions) three += await timed([question]);
    return { triage, three };
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}

/**
 * One text's latencies, each the median over `passes`: triage of the three tasks, the three
 * single-task calls one after another, and one single call (sentiment). Per text the order of the
 * two sides alternates, so the VM's drift falls on both alike.
 */
async function measureText(
  server: ServerProcess,
  floor: { sequence: LlamaContextSequence; of: TriageFloor } | undefined,
  text: string,
  passes: number,
  flip: boolean,
) {
  const triage: number[] = [];
  const three: number[] = [];
  const one: number[] = [];
  const floorTriage: number[] = [];
  const floorThree: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    if (floor) {
      const raw = await floor.of.time(floor.sequence, text);
      floorTriage.push(raw.triage);
      floorThree.push(raw.three);
    }
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
  return {
    triage: median(triage),
    three: median(three),
    one: median(one),
    floorTriage: median(floorTriage),
    floorThree: median(floorThree),
  };
}

/**
 * Triage against single-task calls on each dev set's first `textsPerSet` texts, one server, one
 * run, the triage fixture's tasks with its sentiment in `sentimentLayout`; each text's service calls
 * alternate with the same evaluations on node-llama-cpp alone when every task is text-first.
 */
export async function triageBench(
  modelPath: string,
  threads: number,
  textsPerSet: number,
  sentimentLayout: ClassifyLayout,
  passes = 3,
): Promise<TriageFigures[]> {
  const sets = loadDevSets(DEV_DATA_DIR, textsPerSet).filter((set) => /zh-hotel|en-airline/.test(set.name));
  // The fixture's tasks, its sentiment in the layout asked for.
  const tasksDir = mkdtempSync(join(tmpdir(), 'duet-bench-triage-'));
  const tasksFile = join(tasksDir, 'tasks.yaml');
  const fixture = parse(readFileSync(TRIAGE_TASKS_FILE, 'utf8')) as { tasks: { name: string; layout?: string }[] };
  fixture.tasks.find((task) => task.name === 'sentiment')!.layout = sentimentLayout;
  writeFileSync(tasksFile, stringify(fixture));
  const server = await startServerProcess(modelPath, {
    LOG_LEVEL: 'warn',
    MEMORY_SNAPSHOT_INTERVAL_S: '0',
    TASKS_FILE: tasksFile,
    THREADS: String(threads),
  });
  const floor = sentimentLayout === 'text-first' ? await TriageFloor.open(modelPath, threads) : undefined;
  try {
    // Warm every task's prefix and label vocabulary before timing.
    for (const task of CLASSIFY_TASKS) await timed(server, `/v1/classify/${task}`, { text: 'warm-up' });
    const figures: TriageFigures[] = [];
    const measureSets = async (onFloor?: LlamaContextSequence) => {
      for (const set of sets) {
        const perText: Array<Awaited<ReturnType<typeof measureText>>> = [];
        for (const [i, { text }] of set.rows.entries()) {
          const floorText = onFloor && floor ? { sequence: onFloor, of: floor } : undefined;
          perText.push(await measureText(server, floorText, text, passes, i % 2 === 1));
        }
        const p50 = (key: keyof (typeof perText)[number]) => median(perText.map((t) => t[key]));
        figures.push({
          set: set.name,
          sentimentLayout,
          texts: set.rows.length,
          triageP50Ms: p50('triage'),
          threeSinglesP50Ms: p50('three'),
          oneSingleP50Ms: p50('one'),
          ratioToThreeSingles: p50('triage') / p50('three'),
          ratioToOneSingle: p50('triage') / p50('one'),
          floor: onFloor && {
            triageP50Ms: p50('floorTriage'),
            threeSinglesP50Ms: p50('floorThree'),
            ratioToThreeSingles: p50('floorTriage') / p50('floorThree'),
          },
        });
      }
    };
    if (floor)
      await floor.onSequence(async (sequence) => {
        await floor.time(sequence, 'warm-up');
        await measureSets(sequence);
      });
    else await measureSets();
    return figures;
  } finally {
    await floor?.close();
    server.child.kill('SIGTERM');
    await server.exited;
    rmSync(tasksDir, { recursive: true, force: true });
  }
}
