import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { runTool } from '../support/system-tool.js';

// The alerting rules under promtool (Debian's prometheus package): they load, the example
// configuration that names them loads, and every alert fires and stays quiet in unit tests.

const RULES = 'deploy/prometheus/duet-rules.yaml';
const UNIT_TESTS = 'test/monitoring/duet-rules.test.yaml';

interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const promtool = (...args: string[]) => {
  const run = runTool('promtool', args, 'prometheus');
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
};
const alerts = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string }[] }[] }).groups
  .flatMap((g) => g.rules)
  .flatMap((r) => (r.alert ? [r.alert] : []));

describe('the alerting rules under promtool', () => {
  it('load, with no duplicate rules (promtool check rules), in both copies', () => {
    expect(promtool('check', 'rules', RULES)).toEqual({
      status: 0,
      output: `Checking ${RULES}\n  SUCCESS: ${alerts.length} rules found`,
    });
    // The PrometheusRule's groups as a rules file of their own.
    const operator = parse(readFileSync('deploy/k8s/servicemonitor/prometheusrule.yaml', 'utf8'));
    const copy = join(mkdtempSync(join(tmpdir(), 'duet-rules-')), 'prometheusrule-groups.yaml');
    writeFileSync(copy, stringify({ groups: operator.spec.groups }));
    expect(promtool('check', 'rules', copy).status).toBe(0);
  });

  it('are loaded by the example configuration (promtool check config)', () => {
    const check = promtool('check', 'config', 'deploy/prometheus/prometheus.example.yml');
    expect(check.status).toBe(0);
    expect(check.output).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('fire and stay quiet on series made for each alert (promtool test rules)', () => {
    expect(promtool('test', 'rules', UNIT_TESTS)).toEqual({
      status: 0,
      output: `Unit Testing:  ${UNIT_TESTS}\n  SUCCESS`,
    });
  });

  it('have a unit test where each alert fires and one where it stays quiet', () => {
    const tests = (parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    const covered = (firing: boolean) =>
      new Set(tests.filter((t) => t.exp_alerts.length > 0 === firing).map((t) => t.alertname));
    expect({ fires: [...covered(true)].sort(), quiet: [...covered(false)].sort() }).toEqual({
      fires: [...alerts].sort(),
      quiet: [...alerts].sort(),
    });
  });

  it('fail their unit tests when a threshold changes: the tests hold the rules to their numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'duet-rules-'));
    // The restart alert at any restart: the "one restart stays quiet" test must catch it.
    writeFileSync(join(dir, 'rules.yaml'), readFileSync(RULES, 'utf8').replace('[1h]) > 1', '[1h]) > 0'));
    const unitTests = parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
    writeFileSync(join(dir, 'tests.yaml'), stringify({ ...unitTests, rule_files: ['rules.yaml'] }));
    const run = promtool('test', 'rules', join(dir, 'tests.yaml'));
    expect(run.status).toBe(1);
    expect(run.output).toMatch(/FAILED:[\s\S]*alertname: DuetRestarting/);
  });
});
