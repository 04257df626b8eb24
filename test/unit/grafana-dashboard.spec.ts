import { readFileSync } from 'node:fs';
import { expandGrafanaVariables, namesIn } from '../monitoring/promql.js';

// deploy/grafana/duet.json, checked by its structure: Grafana is in neither Debian nor npm. Its
// queries run against a real Prometheus scraping Duet in test/monitoring.

interface Target {
  datasource: { type: string; uid: string };
  expr: string;
  refId: string;
  legendFormat: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  fieldConfig?: { overrides: { matcher: { id: string; options: string }; properties: { id: string; value: any }[] }[] };
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/duet.json', 'utf8'));
const panels = dashboard.panels as Panel[];
const queryPanels = panels.filter((p) => p.type !== 'row');
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** Every value of `key` anywhere in a JSON value. */
const valuesOf = (value: unknown, key: string): unknown[] =>
  value === null || typeof value !== 'object'
    ? []
    : Object.entries(value).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);

describe('the Grafana dashboard (deploy/grafana/duet.json)', () => {
  it('imports as is: no dashboard id, no inputs to fill, the Prometheus data source a variable', () => {
    expect({ id: dashboard.id, uid: dashboard.uid, inputs: dashboard.__inputs }).toEqual({
      id: null,
      uid: 'duet',
      inputs: undefined,
    });
    expect(dashboard.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    for (const panel of queryPanels) {
      expect([panel.title, panel.datasource]).toEqual([panel.title, DATASOURCE]);
      for (const target of panel.targets!) expect([panel.title, target.datasource]).toEqual([panel.title, DATASOURCE]);
    }
    // No data source is named by its uid anywhere: only the variable, the dashboard's own uid, and
    // Grafana's built-in annotations.
    expect(new Set(valuesOf(dashboard, 'uid'))).toEqual(new Set(['duet', '${datasource}', '-- Grafana --']));
  });

  it('lays its panels on the 24-column grid, without overlaps, each with a unique id', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Map<string, string>();
    for (const { title, gridPos: g } of panels) {
      expect([title, g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24]).toEqual([title, true]);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect([title, cells.get(`${x},${y}`)]).toEqual([title, undefined]);
          cells.set(`${x},${y}`, title);
        }
    }
  });

  it('queries in PromQL with one refId per target, scoped to the $job and $instance variables', () => {
    for (const panel of queryPanels) {
      const refIds = panel.targets!.map((t) => t.refId);
      expect([panel.title, new Set(refIds).size]).toEqual([panel.title, refIds.length]);
      for (const { expr } of panel.targets!) {
        for (const selector of namesIn(expandGrafanaVariables(expr)).selectors)
          expect([expr, selector.labels.includes('job'), selector.labels.includes('instance')]).toEqual([
            expr,
            true,
            true,
          ]);
        expect(expr).toContain('job="$job", instance=~"$instance"');
      }
    }
    const [, job, instance] = dashboard.templating.list;
    expect([job.definition, instance.definition]).toEqual([
      'label_values(duet_process_start_time_seconds, job)',
      'label_values(duet_process_start_time_seconds{job="$job"}, instance)',
    ]);
    expect(instance).toMatchObject({ includeAll: true, multi: true, allValue: '.*' });
  });

  it('shows what an operator watches: requests and errors, latency, first token, queue, tokens, labels, memory, restarts', () => {
    const metricsOf = (panel: Panel) =>
      panel.targets!.flatMap((t) => namesIn(expandGrafanaVariables(t.expr)).selectors.map((s) => s.metric));
    const byTitle = Object.fromEntries(queryPanels.map((p) => [p.title, [...new Set(metricsOf(p))]]));
    expect(byTitle).toEqual({
      'Requests by route and status': ['duet_requests_total'],
      'Errors and refusals by route and status': ['duet_requests_total'],
      'Request latency by route (200s)': ['duet_request_duration_seconds_bucket'],
      'Time to first token by task': ['duet_time_to_first_token_seconds_bucket'],
      'Queue wait by task': ['duet_queue_wait_seconds_bucket'],
      'Queue length and busy sequences': ['duet_queue_length', 'duet_busy_sequences'],
      'Tokens per second by task': ['duet_tokens_total'],
      'Labels per task': ['duet_labels_total'],
      'Memory and its limit': ['duet_memory_bytes', 'duet_memory_limit_bytes'],
      'Restarts in the last hour': ['duet_process_start_time_seconds'],
      Uptime: ['duet_process_start_time_seconds'],
    });
  });

  it('draws the memory limit as a dashed line, matched by its legend', () => {
    const memory = queryPanels.find((p) => p.title === 'Memory and its limit')!;
    const limit = memory.targets!.find((t) => t.expr.includes('duet_memory_limit_bytes'))!;
    const [override] = memory.fieldConfig!.overrides;
    const legend = limit.legendFormat.replace(/\{\{\w+\}\}/g, 'x'); // as Grafana names the series
    expect(new RegExp(`^${override.matcher.options}$`).test(legend)).toBe(true);
    expect(memory.targets!.filter((t) => new RegExp(`^${override.matcher.options}$`).test(t.legendFormat))).toEqual([
      limit,
    ]);
    expect(override.properties.find((p) => p.id === 'custom.lineStyle')?.value).toMatchObject({ fill: 'dash' });
  });
});
