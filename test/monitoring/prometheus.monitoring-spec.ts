import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, ServerProcess, startServerProcess } from '../support/server-process.js';
import { TINY_MODEL } from '../support/test-app.js';
import { expandGrafanaVariables, namesIn, operands } from './promql.js';

// A real Prometheus (Debian's package) scraping a running Duet on the tiny model under a little
// traffic, with deploy/prometheus/duet-rules.yaml loaded: every dashboard query returns data, every
// operand an alert compares returns data, and every metric and label they name is one Duet exports.

const RULES = 'deploy/prometheus/duet-rules.yaml';
/** Labels Prometheus adds to every series it scrapes, and its own series per target. */
const TARGET_LABELS = ['job', 'instance'];
const PROMETHEUS_SERIES: Record<string, string[]> = { up: [] };

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync('deploy/grafana/duet.json', 'utf8'));
const panelQueries: { title: string; expr: string }[] = dashboard.panels.flatMap(
  (panel: { title: string; targets?: { expr: string }[] }) =>
    (panel.targets ?? []).map((t) => ({ title: panel.title, expr: expandGrafanaVariables(t.expr) })),
);
/** The variables' `label_values(metric, label)` queries, as [selector, label]. */
const variableQueries: [string, string][] = dashboard.templating.list
  .filter((v: { type: string }) => v.type === 'query')
  .map((v: { definition: string }) => {
    const [, selector, label] = /^label_values\((.+), (\w+)\)$/.exec(expandGrafanaVariables(v.definition))!;
    return [selector, label];
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Metric name → label names, from Prometheus' text format as Duet serves it. */
function exported(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const labels = metrics.get(sample[1]) ?? new Set<string>();
    for (const [, name] of (sample[2] ?? '').matchAll(/(\w+)="/g)) labels.add(name);
    metrics.set(sample[1], labels);
  }
  return metrics;
}

/** What a query names that Duet does not export: unknown metrics, and labels none of its metrics has. */
function unknownNames(query: string, metrics: Map<string, Set<string>>): string[] {
  const known = new Map([...metrics, ...Object.entries(PROMETHEUS_SERIES).map(([m, l]) => [m, new Set(l)] as const)]);
  const { selectors, labels } = namesIn(query);
  const labelsOf = (metric: string) => new Set([...(known.get(metric) ?? []), ...TARGET_LABELS]);
  const problems = selectors.flatMap(({ metric, labels: matched }) =>
    known.has(metric)
      ? matched.filter((label) => !labelsOf(metric).has(label)).map((label) => `${metric} has no label ${label}`)
      : [`no metric ${metric}`],
  );
  const anyLabel = new Set(selectors.flatMap(({ metric }) => [...labelsOf(metric)]));
  return [...problems, ...labels.filter((label) => !anyLabel.has(label)).map((label) => `no label ${label}`)];
}

describe('a real Prometheus scraping Duet, with the rules loaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-prometheus-'));
  let duet: ServerProcess;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let api = '';
  let trafficRunning = true;
  let rounds = 0;
  let traffic: Promise<void> = Promise.resolve();

  const query = async (promql: string) => {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data!.result;
  };
  /** Series with a number (histogram_quantile gives NaN on a window without observations). */
  const finite = async (promql: string) => (await query(promql)).filter((r) => Number.isFinite(Number(r.value[1])));

  beforeAll(async () => {
    // One sequence and no queue: a second request at once is refused (503), and readiness says so.
    duet = await startServerProcess(TINY_MODEL, {
      MEMORY_SNAPSHOT_INTERVAL_S: '0',
      LOG_LEVEL: 'warn',
      SEQUENCES: '1',
      MAX_QUEUE: '0',
      CHAT_MAX_TOKENS: '256',
      CHAT_MAX_CHARS: '2000',
      TASKS_FILE: join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml'),
    });
    // A refusal and a failed readiness check, beside a long chat.
    for (let attempt = 0; attempt < 10; attempt++) {
      const long = post(`${duet.url}/v1/chat`, { messages: [{ role: 'user', content: 'tell me everything' }] });
      await sleep(30);
      const [refused, ready] = await Promise.all([
        post(`${duet.url}/v1/sentiment`, { text: 'hello' }),
        fetch(`${duet.url}/health/ready`),
      ]);
      await (await long).arrayBuffer();
      if (refused.status === 503 && ready.status === 503) break;
    }
    // Then a little of everything, one request at a time, until the queries are done.
    const texts = ['My card was charged twice', 'Great crew, smooth landing!', '送餐很快，味道也不错。'];
    const requests: ((text: string) => Promise<Response>)[] = [
      (text) => post(`${duet.url}/v1/sentiment`, { text }),
      (text) => post(`${duet.url}/v1/classify/urgency`, { text }),
      (text) => post(`${duet.url}/v1/triage`, { text }),
      (text) => post(`${duet.url}/v1/sentiment/batch`, { items: [{ text }, { text: 'ok' }] }),
      (text) => post(`${duet.url}/v1/chat`, { messages: [{ role: 'user', content: text }], maxChars: 40 }),
      () => post(`${duet.url}/v1/sentiment`, { text: '' }), // 400
      () => fetch(`${duet.url}/health/ready`),
    ];
    traffic = (async () => {
      // One at a time: with one sequence and no queue a second one would be refused.
      for (; trafficRunning; rounds++)
        for (const request of requests) await (await request(texts[rounds % texts.length])).arrayBuffer();
    })();

    // Prometheus with the example configuration: the rules beside it, Duet as the target, and
    // scrapes and evaluations every second instead of every 30.
    const config = parse(readFileSync('deploy/prometheus/prometheus.example.yml', 'utf8'));
    config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
    config.rule_files = [resolve(RULES)];
    config.scrape_configs[0].static_configs = [{ targets: [new URL(duet.url).host] }];
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.on('error', (error) => (prometheusLog += `${error.message}: install the Debian package prometheus\n`));
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));

    // Ready, 15 scrapes in, and every rule evaluated at least once.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const scrapes = await finite('count_over_time(up{job="duet"}[1m])').catch(() => []);
      const evaluated = await fetch(`${api}/api/v1/rules`)
        .then((r) => r.json() as Promise<{ data: { groups: { rules: { lastEvaluation: string }[] }[] } }>)
        .then((body) => body.data.groups.flatMap((g) => g.rules).every((r) => !r.lastEvaluation.startsWith('0001')))
        .catch(() => false);
      if (Number(scrapes[0]?.value[1]) >= 15 && evaluated) break;
      if (Date.now() > deadline || prometheus.exitCode !== null)
        throw new Error(`Prometheus did not scrape Duet in time:\n${prometheusLog}`);
      await sleep(500);
    }
    // Two whole rounds of traffic while Prometheus scrapes, so every 1-minute rate has seen each route.
    const seen = rounds;
    while (rounds < seen + 2) await sleep(200);
    await sleep(2000);
  }, 240_000);

  afterAll(async () => {
    trafficRunning = false;
    await traffic.catch(() => undefined);
    if (prometheus?.exitCode === null) {
      const exited = new Promise((r) => prometheus!.on('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    duet?.child.kill('SIGTERM');
    await duet?.exited;
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('scrapes Duet, and evaluates every rule without an error', async () => {
    const targets = (await (await fetch(`${api}/api/v1/targets`)).json()) as {
      data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] };
    };
    expect(targets.data.activeTargets.map((t) => [t.labels.job, t.health, t.lastError])).toEqual([['duet', 'up', '']]);
    const loaded = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const evaluated = loaded.data.groups.flatMap((g) => g.rules);
    expect(evaluated.map((r) => [r.name, r.health, r.lastError ?? ''])).toEqual(
      rules.map((r) => [r.alert ?? r.record, 'ok', '']),
    );
  });

  it('returns data for every dashboard query and variable', async () => {
    const empty: string[] = [];
    for (const { title, expr } of panelQueries) if ((await finite(expr)).length === 0) empty.push(`${title}: ${expr}`);
    for (const [selector, label] of variableQueries) {
      const values = (await query(`group by (${label}) (${selector})`)).map((r) => r.metric[label]);
      if (!values.length) empty.push(`label_values(${selector}, ${label})`);
    }
    expect(empty).toEqual([]);
    expect(panelQueries.length).toBeGreaterThanOrEqual(15);
  });

  it('returns data for every operand an alert compares (a quiet alert returns nothing, its operands do)', async () => {
    const empty: string[] = [];
    for (const rule of rules)
      for (const operand of operands(rule.expr))
        if ((await finite(operand)).length === 0) empty.push(`${rule.alert}: ${operand}`);
    expect(empty).toEqual([]);
    // The memory alert compares with the limit Duet exports (READY_MAX_ANON_SWAP_MB's 1100 MiB here
    // unless a cgroup limit is lower).
    const [limit] = await query('duet_memory_limit_bytes{job="duet"}');
    expect(Number(limit.value[1])).toBeLessThanOrEqual(1100 * 1048576);
  });

  it('names only metrics and labels that Duet exports', async () => {
    const metrics = exported(await (await fetch(`${duet.url}/metrics`)).text());
    const queries = [
      ...rules.map((r) => r.expr),
      ...panelQueries.map((q) => q.expr),
      ...variableQueries.map(([selector]) => selector),
    ];
    expect(queries.flatMap((q) => unknownNames(q, metrics).map((problem) => `${problem} in ${q}`))).toEqual([]);
    // The check itself catches a misspelled metric and a label the metric does not have.
    expect(unknownNames('sum by (kind) (duet_memory_byte{kind="rss"})', metrics)).toEqual([
      'no metric duet_memory_byte',
      'no label kind',
    ]);
    expect(unknownNames('duet_queue_length{task="chat"}', metrics)).toEqual([
      'duet_queue_length has no label task',
      'no label task',
    ]);
  });
});
