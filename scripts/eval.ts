// Accuracy of one classify task on labelled texts, for checking a task before trusting it.
// npm run eval -- --task NAME --data FILE.jsonl [--limit N]
//                 [--url http://127.0.0.1:8080 [--api-key KEY] | --model path.gguf [--tasks-file tasks.yaml]]
// FILE.jsonl: one {"text": "...", "label": "..."} per line, labels among the task's own.
// Without --url it starts dist/main.js on a free loopback port with --model (default: the tiny
// fixture) and --tasks-file. Prints the confusion matrix on stderr and one JSON line on stdout.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { optionalWholeNumber } from './lib/cli-options.js';
import { confusionTable, evaluate, type Outcome } from './lib/eval-metrics.js';
import { startServerProcess } from '../test/support/server-process.js';

interface Example {
  text: string;
  label: string;
}

function readExamples(path: string): Example[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, number }) => {
      let example: Partial<Example>;
      try {
        example = JSON.parse(line) as Partial<Example>;
      } catch {
        throw new Error(`${path}:${number}: not JSON`);
      }
      if (typeof example.text !== 'string' || typeof example.label !== 'string')
        throw new Error(`${path}:${number}: needs "text" and "label" strings`);
      return { text: example.text, label: example.label };
    });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      task: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      url: { type: 'string' },
      'api-key': { type: 'string' },
      model: { type: 'string', default: 'test/fixtures/models/tiny.gguf' },
      'tasks-file': { type: 'string' },
    },
  });
  if (!values.task || !values.data) throw new Error('--task and --data are required');
  const limit = optionalWholeNumber('limit', values.limit);
  const examples = readExamples(values.data).slice(0, limit);
  if (examples.length === 0) throw new Error(`${values.data} has no examples`);
  const server = values.url
    ? undefined
    : await startServerProcess(values.model!, {
        LOG_LEVEL: 'warn',
        MEMORY_SNAPSHOT_INTERVAL_S: '0',
        ...(values['tasks-file'] ? { TASKS_FILE: values['tasks-file'] } : {}),
      });
  const url = values.url ?? server!.url;
  const headers = {
    'content-type': 'application/json',
    ...(values['api-key'] ? { authorization: `Bearer ${values['api-key']}` } : {}),
  };
  try {
    const { tasks } = (await (await fetch(`${url}/v1/tasks`, { headers })).json()) as {
      tasks: { name: string; kind: string; labels?: { name: string }[] }[];
    };
    const task = tasks.find((t) => t.name === values.task && t.kind === 'classify');
    if (!task) throw new Error(`no classify task "${values.task}" on the server`);
    const labels = task.labels!.map((label) => label.name);
    const strange = examples.find((example) => !labels.includes(example.label));
    if (strange) throw new Error(`label "${strange.label}" is not one of the task's: ${labels.join(', ')}`);
    const outcomes: Outcome[] = [];
    for (const example of examples) {
      const started = performance.now();
      const response = await fetch(`${url}/v1/classify/${values.task}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ text: example.text }),
      });
      const body = (await response.json()) as { label: string | null; message?: string };
      if (response.status !== 200)
        throw new Error(`HTTP ${response.status} for "${example.text.slice(0, 40)}": ${body.message}`);
      outcomes.push({ gold: example.label, predicted: body.label, ms: performance.now() - started });
    }
    const report = evaluate(outcomes, labels);
    process.stderr.write(`${confusionTable(report.confusion)}\n`);
    console.log(JSON.stringify({ task: values.task, data: values.data, ...report }));
  } finally {
    server?.child.kill('SIGTERM');
    await server?.exited;
  }
}

main().catch((error: Error) => {
  process.stderr.write(`eval: ${error.message}\n`);
  process.exit(2);
});
