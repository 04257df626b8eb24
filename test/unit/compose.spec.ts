import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Environment, parseEnvironment } from '../../src/config/environment.js';

interface ComposeService {
  command?: string[];
  env_file?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  mem_limit?: string;
  memswap_limit?: string;
  stop_grace_period?: string;
  read_only?: boolean;
  profiles?: string[];
}

const compose = parse(readFileSync('deploy/compose.yaml', 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const { duet, nginx } = compose.services;
const pull = compose.services['model-pull'];
const envFile = (service: ComposeService) =>
  Object.fromEntries(
    readFileSync(join('deploy', `${service.env_file}.example`), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split(/=(.*)/s).slice(0, 2)),
  );

describe('Compose file (deploy/compose.yaml)', () => {
  it('gives Duet a valid environment: the example env file and its own variables', () => {
    const env = { ...envFile(duet), ...duet.environment };
    const known = Object.keys(new Environment());
    expect(Object.keys(env).filter((name) => !known.includes(name))).toEqual([]);
    expect(parseEnvironment(env).TRUST_PROXY).toBe('1');
  });

  it('limits memory like the systemd unit, without swap, and gives the drain its time', () => {
    const memoryMax = readFileSync('deploy/systemd/duet.service', 'utf8').match(/^MemoryMax=(\d+)M$/m)![1];
    expect([duet.mem_limit, duet.memswap_limit]).toEqual([`${memoryMax}m`, `${memoryMax}m`]);
    const drainS = parseEnvironment(envFile(duet)).SHUTDOWN_DRAIN_MS / 1000;
    expect(Number(duet.stop_grace_period!.replace(/s$/, ''))).toBeGreaterThan(drainS);
  });

  it('pulls the model into the volume first, which Duet mounts read-only', () => {
    expect(pull.command!.join(' ')).toMatch(/node dist\/model-pull\/cli\.js/);
    expect(duet.depends_on!['model-pull']).toEqual({ condition: 'service_completed_successfully' });
    const models = (service: ComposeService) => service.volumes!.find((v) => /:\/models(:ro)?$/.test(v));
    expect(models(duet)).toBe(`${models(pull)}:ro`);
    expect([duet.read_only, pull.read_only]).toEqual([true, true]);
  });

  it('puts nginx in front optionally, with an SSE-safe config from the repository', () => {
    expect(nginx.profiles).toEqual(['proxy']);
    const [config] = nginx.volumes![0].split(':');
    const path = join('deploy', config);
    expect(existsSync(path)).toBe(true);
    const conf = readFileSync(path, 'utf8');
    expect(conf).toMatch(/^\s*proxy_buffering off;/m);
    expect(conf).toMatch(/^\s*server duet:8080;/m);
    expect(conf).toMatch(/^\s*proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/m);
  });
});
