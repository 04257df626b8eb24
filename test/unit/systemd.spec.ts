import { readFileSync } from 'node:fs';
import { Environment } from '../../src/config/environment.js';
import { runTool } from '../support/system-tool.js';

const UNIT = 'deploy/systemd/duet.service';
const unit = readFileSync(UNIT, 'utf8');
const directive = (name: string) => unit.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1];

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    const run = runTool('systemd-analyze', ['verify', UNIT], 'systemd');
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('sets a hard memory limit with a softer reclaim threshold below it', () => {
    const mib = (value?: string) => Number(value?.replace(/M$/, ''));
    expect(mib(directive('MemoryMax'))).toBeGreaterThan(mib(directive('MemoryHigh')));
    expect(unit).toMatch(/MemoryLimit=/); // the comment naming cgroup v1's old directive
  });

  it('gives the drain deadline time to finish before systemd kills the process', () => {
    const drainS = new Environment().SHUTDOWN_DRAIN_MS / 1000;
    expect(Number(directive('TimeoutStopSec')?.replace(/s$/, ''))).toBeGreaterThan(drainS);
    expect(directive('Restart')).toBe('on-failure');
    expect(directive('RestartPreventExitStatus')).toBe('2');
  });

  it('reloads the tasks file with SIGHUP on systemctl reload', () => {
    expect(directive('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });

  it('is rated 2.0 or lower by systemd-analyze security', () => {
    const run = runTool('systemd-analyze', ['security', '--offline=true', UNIT], 'systemd');
    const exposure = Number(/Overall exposure level for duet\.service: ([\d.]+)/.exec(run.stdout)?.[1]);
    expect(exposure).toBeLessThanOrEqual(2.0);
  });

  it('filters system calls with EPERM, keeping the writable executable memory V8 needs', () => {
    expect(unit).toMatch(/^SystemCallFilter=@system-service$/m);
    expect(unit).toMatch(/^SystemCallFilter=~@privileged @resources$/m);
    expect(directive('SystemCallErrorNumber')).toBe('EPERM'); // a missed call fails; it does not kill the service
    expect(directive('SystemCallArchitectures')).toBe('native');
    expect(directive('MemoryDenyWriteExecute')).toBeUndefined();
    expect(unit).toMatch(/^# MemoryDenyWriteExecute= stays off: V8's JIT/m);
  });

  it('runs unprivileged and sandboxed, logging to the journal', () => {
    expect(unit).toMatch(/^DynamicUser=yes$/m);
    for (const name of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(directive(name)).toBe('yes');
    expect(directive('ProtectSystem')).toBe('strict');
    expect(directive('CapabilityBoundingSet')).toBe('');
    expect(directive('ReadOnlyPaths')).toBe('/opt/duet');
    expect(directive('StandardOutput')).toBe('journal');
  });

  it('has an environment example naming only variables Duet reads', () => {
    const known = Object.keys(new Environment());
    const names = readFileSync('deploy/systemd/duet.env.example', 'utf8')
      .match(/^#? ?([A-Z_]+)=/gm)!
      .map((line) => line.replace(/^#? ?/, '').slice(0, -1));
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !known.includes(name))).toEqual([]);
  });
});
