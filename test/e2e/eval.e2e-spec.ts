import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_MODEL } from '../support/test-app.js';

const DATA = join(import.meta.dirname, '..', 'fixtures', 'dev-sample', 'sentiment-dev-en-airline.jsonl');
const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml');
const evaluate = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('npm run eval (the harness an operator checks a task with)', () => {
  it('reports accuracy, macro-F1, the confusion matrix, abstain rate and p50 for a task on labelled lines', () => {
    const run = evaluate('--task', 'sentiment', '--data', DATA, '--limit', '12', '--model', TINY_MODEL);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(report).toMatchObject({ task: 'sentiment', examples: 12, abstainRate: 0 });
    for (const figure of ['accuracy', 'macroF1']) expect(report[figure]).toBeGreaterThanOrEqual(0);
    expect(report.p50Ms).toBeGreaterThan(0);
    const counted = Object.values<Record<string, number>>(report.confusion).flatMap((row) => Object.values(row));
    expect(counted.reduce((a, b) => a + b)).toBe(12);
    expect(run.stderr).toMatch(/gold \\ answer/); // the matrix as a table
  });

  it("evaluates an operator's task from a tasks file, counting abstentions", () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-eval-'));
    const data = join(dir, 'tickets.jsonl');
    writeFileSync(
      data,
      ['urgent', 'normal', 'low'].map((label, i) => JSON.stringify({ text: `ticket ${i}`, label })).join('\n'),
    );
    const run = evaluate('--task', 'urgency', '--data', data, '--model', TINY_MODEL, '--tasks-file', TASKS_FILE);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(report.examples).toBe(3);
    expect(Object.keys(report.confusion)).toEqual(['urgent', 'normal', 'low']);
  });

  it('refuses a label the task does not have, with one line and exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-eval-'));
    const data = join(dir, 'bad.jsonl');
    writeFileSync(data, JSON.stringify({ text: 'hi', label: 'angry' }));
    const run = evaluate('--task', 'sentiment', '--data', data, '--model', TINY_MODEL);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('eval: label "angry" is not one of the task\'s: positive, negative, neutral');
  });
});
