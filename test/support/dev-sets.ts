import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SENTIMENT_LABELS } from './builtin-tasks.js';

/**
 * Where the labelled dev sets live: ../shared/data beside the checkout (scripts run from its root),
 * or DEV_DATA_DIR (a git worktree has no such neighbour).
 */
export const DEV_DATA_DIR = process.env.DEV_DATA_DIR ?? join(process.cwd(), '..', 'shared', 'data');

export interface DevSet {
  name: string;
  /** The labels the set uses (the Chinese sets have no neutral), in the sentiment task's order. */
  labels: string[];
  rows: Array<{ text: string; label: string }>;
}

/** The labelled JSONL dev sets in `dir` (../shared/data, or the 30-row samples in test/fixtures/dev-sample). */
export function loadDevSets(dir: string, rowsPerSet = Infinity): DevSet[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.jsonl'))
    .sort()
    .map((file) => {
      const rows = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .slice(0, rowsPerSet)
        .map((line) => JSON.parse(line) as { text: string; label: string });
      const labels = SENTIMENT_LABELS.filter((label) => rows.some((row) => row.label === label));
      return { name: basename(file, '.jsonl'), labels, rows };
    });
}
